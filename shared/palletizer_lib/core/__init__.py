"""The registry: the façade over the stores and the index (`registry`), publishing, yanking and owners
(`operations`), who may do what (`access`), search, and how one is composed from a data directory."""
