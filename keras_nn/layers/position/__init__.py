"""Position encodings for attention: the sinusoidal encoding and a learned position embedding."""
