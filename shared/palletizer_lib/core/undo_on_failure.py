"""Undoing what a registry's creation made when it fails, so that a failed `init` leaves nothing behind."""

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from palletizer_lib.disk.layout import Layout


@contextmanager
def directories_removed_on_failure(layout: Layout) -> Iterator[None]:
    """If the body raises, remove the lock file if it did not exist before and no registry is there (another
    process may have made one meanwhile), then the data directory and its parent directories that did not
    exist before, each only if it is empty by then."""
    made = [directory for directory in (layout.root, *layout.root.parents) if not directory.exists()]
    lock_existed = layout.lock.exists()
    try:
        yield
    except BaseException:
        if not lock_existed and not layout.config.exists():
            layout.lock.unlink(missing_ok=True)
        for directory in made:
            try:
                directory.rmdir()
            except OSError:
                break
        raise


@contextmanager
def entries_removed_on_failure(root: Path) -> Iterator[None]:
    """If the body raises, remove every entry of the directory `root` it added, and give `root` its mode
    back. Used under the registry lock, so that what another process adds meanwhile is never touched."""
    before = set(os.listdir(root))
    mode = stat.S_IMODE(root.stat().st_mode)
    try:
        yield
    except BaseException:
        for name in set(os.listdir(root)) - before:
            path = root / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(root, mode)
        raise
