"""Looking at directory trees in tests."""

import os
from pathlib import Path


def tree(root: Path) -> dict[str, bytes | str | None]:
    """Every path under `root`, relative to it: a file's content, a link's target, None for a directory."""
    found: dict[str, bytes | str | None] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        found[key] = os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else None
    return found
