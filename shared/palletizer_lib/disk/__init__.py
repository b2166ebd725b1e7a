"""The data directory on local disk: atomic writes, locks, where each file lives."""
