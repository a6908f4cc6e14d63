"""Recurrent cells and layers written from their equations with `keras.ops`, a file per layer (Keras's layout)."""
