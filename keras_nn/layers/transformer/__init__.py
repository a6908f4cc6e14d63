"""Transformer encoder and decoder blocks, a file per block; `base.py` holds the shared block base."""
