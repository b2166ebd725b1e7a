"""The files service: crate downloads."""
