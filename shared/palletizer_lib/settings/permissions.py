"""Who may read a data directory: the registry's own user only, for it holds token hashes, private crates and
their metadata. `init` makes the directory 0700 and its settings and databases 0600 (whatever the umask);
`verify` warns of what is wider."""

import os
import stat
from pathlib import Path

from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import StorageError

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
OTHERS = stat.S_IRWXG | stat.S_IRWXO


def make_private(layout: Layout) -> None:
    """Make the data directory `PRIVATE_DIR_MODE` and each of its private files there `PRIVATE_FILE_MODE`.
    A directory this user may not change (owned by another, as a volume mounted for this one may be) is left
    as it is: its private files still are `PRIVATE_FILE_MODE`, and `exposed` names it."""
    try:
        os.chmod(layout.root, PRIVATE_DIR_MODE)
    except PermissionError:
        pass
    except OSError as exc:
        raise StorageError(f"could not make {layout.root} private: {exc.strerror or exc}") from exc
    for path in layout.private_files:
        if path.exists():
            _chmod(path, PRIVATE_FILE_MODE)


def exposed(layout: Layout) -> list[str]:
    """A warning for the data directory and for each private file in it that other users may read or write
    (empty if none)."""
    warnings = []
    for path, mode in ((layout.root, PRIVATE_DIR_MODE), *((file, PRIVATE_FILE_MODE) for file in layout.private_files)):
        try:
            current = stat.S_IMODE(path.lstat().st_mode)
        except FileNotFoundError:
            continue
        if current & OTHERS:
            warnings.append(
                f"{path} is readable or writable by other users (mode {current:o}): `chmod {mode:o} {path}`"
            )
    return warnings


def _chmod(path: Path, mode: int) -> None:
    try:
        os.chmod(path, mode)
    except OSError as exc:
        raise StorageError(f"could not make {path} private: {exc.strerror or exc}") from exc
