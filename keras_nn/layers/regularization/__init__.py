"""Regularization layers that Keras lacks (stochastic depth)."""
