"""Token embeddings whose matrix is also the output projection (tied input and output embeddings)."""
