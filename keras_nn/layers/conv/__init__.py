"""Convolutional blocks, a file per block; `base.py` holds the shared base class and padding helpers."""
