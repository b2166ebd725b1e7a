"""The index service: the sparse HTTP index."""
