"""Values and the rules on them: crate names, versions, index entries, manifests, crate files, request bodies,
URLs and the one error hierarchy. No I/O beyond parsing what it is given."""
