"""A crate of the mirror's cache as its page shows it: its versions read from the cached index file, parsed
once per version of the file and kept within a byte budget; a version's entry read again from its line."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import InvalidCrate
from palletizer_lib.domain.index_entry import IndexEntry, check_entry
from palletizer_lib.domain.versions import max_version, parse_version
from palletizer_lib.mirror.byte_lru import ByteLru
from palletizer_lib.mirror.cache_files import StoredIndexFile, read_index_file, read_span
from palletizer_lib.mirror.state import settle

# What one version of a parsed crate costs in memory, roughly (its row, its line's place in the file).
_ROW_COST = 160


@dataclass(frozen=True)
class MirroredCrate:
    """A crate of the mirror's cache as its page shows it: its name, every version newest first with whether
    it is yanked, the version search shows, and where each version's line is in the file."""

    path: Path
    identity: tuple[int, int, int]
    name: str
    versions: list[tuple[str, bool]]
    shown: str
    lines: dict[str, tuple[int, int]]

    def entry(self, version: str) -> IndexEntry | None:
        """The index entry of `version` (read from the file: only its line), with `yanked`, `deps` and
        `features` present; None if there is no such version or the file changed since."""
        place = self.lines.get(version)
        if place is None:
            return None
        line = read_span(self.path, self.identity, place[0], place[1])
        if line is None:
            return None
        try:
            entry = check_entry(json.loads(line))
        except (ValueError, InvalidCrate):
            return None
        entry["yanked"] = bool(entry.get("yanked"))
        entry.setdefault("features", {})
        return entry


_CRATES: ByteLru[MirroredCrate] = ByteLru(lambda crate: _ROW_COST * (len(crate.versions) + 1))


def cached_crate(layout: Layout, name: str) -> MirroredCrate | None:
    """The crate `name` as the mirror's cache holds it (never fetched, however old), once the file this
    process may have just served is written; None if the cache has no usable index file of that name. Each
    version of the file is parsed once per process."""
    settle(layout, name)
    return read_index_file(layout.mirror_index_file(name), _parse_crate, _CRATES)


def _parse_crate(stored: StoredIndexFile) -> MirroredCrate | None:
    offset = stored.start
    lines: dict[str, tuple[int, int]] = {}
    entries: list[dict[str, Any]] = []
    for line in stored.data.splitlines(keepends=True):
        try:
            entry = json.loads(line)
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                parse_version(entry.get("vers"))
                entries.append({"name": entry["name"], "vers": entry["vers"], "yanked": bool(entry.get("yanked"))})
                lines[entry["vers"]] = (offset, len(line))
        except (ValueError, InvalidCrate):
            pass
        offset += len(line)
    if not entries:
        return None
    rows = [
        (entry["vers"], entry["yanked"])
        for entry in sorted(entries, key=lambda e: parse_version(e["vers"]), reverse=True)
    ]
    return MirroredCrate(stored.path, stored.identity, entries[-1]["name"], rows, max_version(entries), lines)
