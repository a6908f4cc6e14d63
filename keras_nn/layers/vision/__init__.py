"""Layers that turn an image into a sequence of tokens (Vision Transformer, DeiT)."""
