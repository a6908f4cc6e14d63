"""Attention layers and masks, a file per layer; `alignment.py` holds what Bahdanau and Luong share."""
