"""Palletizer: a self-hosted, private Cargo registry (the library every front end uses)."""
