"""The index over the stores: the commit protocol (`store`), maintenance and repair, the served files' cache."""
