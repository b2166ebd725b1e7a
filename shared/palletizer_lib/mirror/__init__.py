"""The crates.io mirror: its cache of index files and crates, the upstream it asks and the bounds on that."""
