"""`mirror status` and the mirror's part of `verify`: what the cache holds, and whether its crate files
match their cached index entries."""

import contextlib
import time
from dataclasses import dataclass

from palletizer_lib.disk.files import TEMP_PREFIX
from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.names import version_of_file
from palletizer_lib.mirror.cache_files import cached_cksum, crate_sha256
from palletizer_lib.mirror.catalog import catalog_of


@dataclass(frozen=True)
class CacheStatus:
    """What the mirror holds."""

    index_files: int
    index_bytes: int
    crate_files: int
    crate_bytes: int
    stale_index_files: int


def cache_status(layout: Layout, freshness: int, now: float | None = None) -> CacheStatus:
    """Count the cached index files (and those older than `freshness`) and crate files, with their sizes,
    from the catalog (and each index file's modification time)."""
    now = time.time() if now is None else now
    catalog = catalog_of(layout)
    index_files, index_bytes, crate_files, crate_bytes = catalog.status()
    stale = 0
    for path in catalog.index_paths():
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime >= freshness:
                stale += 1
    return CacheStatus(index_files, index_bytes, crate_files, crate_bytes, stale)


def verify_cache(layout: Layout) -> list[str]:
    """Every cached upstream crate whose SHA-256 differs from its cached index entry's `cksum`, or that its
    cached index file does not name (the files are only read: nothing is fetched; a crate whose index file
    was evicted is checked when it is next served)."""
    problems: list[str] = []
    crates = layout.mirror / "crates"
    if not crates.is_dir():
        return problems
    for crate_dir in sorted(crates.iterdir()):
        for file in sorted(crate_dir.iterdir()) if crate_dir.is_dir() else []:
            if file.name.startswith(TEMP_PREFIX):
                continue
            where = file.relative_to(layout.root)
            name = crate_dir.name
            version = version_of_file(name, file.name)
            if version is None:
                problems.append(f"{where}: not the file of a version of {name}")
                continue
            if not layout.mirror_index_file(name).is_file():
                continue
            cksum = cached_cksum(layout, name, version)
            if cksum is None:
                problems.append(f"{where}: no cached upstream index entry refers to it")
                continue
            if crate_sha256(file) != cksum:
                problems.append(f"{where}: its checksum does not match the cached upstream index entry")
    return problems
