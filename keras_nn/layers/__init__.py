"""Reusable layers, a file per family (attention, positional, transformer, conv_blocks, recurrent, ...)."""
