"""What an export carries beyond its index and crate files, so that importing it rebuilds the same registry.

`DIR/palletizer-state.json` names each exported crate's owners and each version's publisher, catalog time
and downloads: what the index does not hold. Yanks and each entry's `pubtime` come from the export's own
index files (`DIR/index/`), read back by `ExportState.history` for the version being imported. A directory
without the state file is plain `.crate` files, imported as such.
"""

import errno
import json
import math
import os
import stat
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from palletizer_lib.core.operations import VersionHistory
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import BadRequest, PalletizerError
from palletizer_lib.domain.index_entry import IndexEntry, parse_lines, pubtime_seconds
from palletizer_lib.domain.names import index_path, normalise, version_of_file
from palletizer_lib.stores.accounts import check_user_name
from palletizer_lib.stores.crates import CRATES_PREFIX

STATE_FILE = "palletizer-state.json"
INDEX_DIR = "index"
FORMAT = 1
MAX_STATE_BYTES = 256 * 1024 * 1024
MAX_INDEX_FILE_BYTES = 64 * 1024 * 1024
MAX_DOWNLOADS = 2**53
MAX_PUBLISHER = 200
INDEX_FILES_KEPT = 16


def state_document(registry: Registry, crate_files: Iterable[str]) -> bytes:
    """The state file of an export holding `crate_files` (`crates/NAME/NAME-VERSION.crate`): the same bytes
    for the same state, so an export again rewrites it only when something changed."""
    versions: dict[str, list[str]] = {}
    for relative in crate_files:
        name, file = relative.removeprefix(CRATES_PREFIX).split("/", 1)
        version = version_of_file(name, file)
        if version is not None:
            versions.setdefault(name, []).append(version)
    accounts, catalog = registry.stores.accounts, registry.stores.catalog
    crates: dict[str, dict[str, Any]] = {}
    for name, exported in versions.items():
        known = catalog.versions(name)
        downloads = catalog.version_downloads(name)
        described: dict[str, dict[str, Any]] = {}
        for vers in exported:
            info = known.get(vers)
            described[vers] = {
                "publisher": info.publisher if info else None,
                "published": info.published if info else None,
                "downloads": downloads.get(vers, 0),
            }
        crates[name] = {"owners": accounts.owners(name), "versions": described}
    document = {"format": FORMAT, "crates": crates}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode() + b"\n"


class ExportState:
    """The state an export carries, read from its directory (see the module's docstring)."""

    def __init__(self, directory: Path, crates: dict[str, dict[str, Any]]) -> None:
        self.directory = directory
        self._crates = crates
        self._index_entries = lru_cache(maxsize=INDEX_FILES_KEPT)(self._read_index_entries)

    @classmethod
    def load(cls, directory: Path) -> "ExportState | None":
        """The state of the export in `directory`, None if it has no state file; `BadRequest` saying what
        is wrong if the file cannot be read or is not what an export writes (before anything is imported)."""
        path = directory / STATE_FILE
        try:
            raw = _read_bounded(path, MAX_STATE_BYTES)
        except FileNotFoundError:
            return None
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"{path} is not JSON: {exc}") from exc
        try:
            crates = _checked(document)
        except PalletizerError as exc:
            raise BadRequest(f"{path} is not the state file of an export: {exc.detail}") from exc
        return cls(directory, crates)

    def owners(self, name: str) -> list[str]:
        """The owners crate `name` had in the exported registry."""
        owners: list[str] = self._crates.get(normalise(name), {}).get("owners", [])
        return owners

    def history(self, entry: IndexEntry) -> VersionHistory:
        """What the export knew of the version of index entry `entry` (as this registry builds it): its yank
        and `pubtime` from the export's index entry of the same checksum, the rest from the state file."""
        name, vers = entry["name"], entry["vers"]
        known = self._crates.get(normalise(name), {}).get("versions", {}).get(vers, {})
        exported: Mapping[str, object] = next(
            (
                e
                for e in self._index_entries(index_path(name))
                if e.get("vers") == vers and e.get("cksum") == entry["cksum"]
            ),
            {},
        )
        return VersionHistory(
            pubtime=pubtime_seconds(exported),
            published=known.get("published"),
            publisher=known.get("publisher"),
            downloads=known.get("downloads", 0),
            yanked=exported.get("yanked") is True,
        )

    def _read_index_entries(self, relative: str) -> list[IndexEntry]:
        path = self.directory / INDEX_DIR / relative
        try:
            content = _read_bounded(path, MAX_INDEX_FILE_BYTES)
        except FileNotFoundError:
            return []
        try:
            entries = parse_lines(content)
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"{path} is not an index file: {exc}") from exc
        return [e for e in entries if isinstance(e, dict)]


def _read_bounded(path: Path, limit: int) -> bytes:
    """The bytes of the regular file `path` (never through a symbolic link), at most `limit` of them;
    FileNotFoundError if there is none, BadRequest if it cannot be read or is larger."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        reason = "a symbolic link" if exc.errno == errno.ELOOP else exc.strerror or exc
        raise BadRequest(f"cannot read {path}: {reason}") from exc
    with os.fdopen(fd, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise BadRequest(f"cannot read {path}: not a regular file")
        if status.st_size > limit:
            raise BadRequest(f"{path} is {status.st_size} bytes, more than the {limit} an import reads")
        return file.read(limit + 1)


def _checked(document: object) -> dict[str, dict[str, Any]]:
    """The crates of a state document by normalised name, each value checked; BadRequest naming the first
    value that is wrong."""
    if (
        not isinstance(document, dict)
        or document.get("format") != FORMAT
        or not isinstance(document.get("crates"), dict)
    ):
        raise BadRequest(f'expected {{"format": {FORMAT}, "crates": {{...}}}}')
    crates: dict[str, dict[str, Any]] = {}
    for name, crate in document["crates"].items():
        if (
            not isinstance(crate, dict)
            or not isinstance(crate.get("owners"), list)
            or not isinstance(crate.get("versions"), dict)
        ):
            raise BadRequest(f"crate `{name}`: expected owners (a list) and versions (an object)")
        owners = [check_user_name(user) for user in crate["owners"]]
        versions = {vers: _checked_version(name, vers, known) for vers, known in crate["versions"].items()}
        crates[normalise(name)] = {"owners": owners, "versions": versions}
    return crates


def _checked_version(name: str, vers: str, known: object) -> dict[str, Any]:
    what = f"crate `{name}` version {vers}"
    if not isinstance(known, dict):
        raise BadRequest(f"{what}: expected an object")
    publisher, published, downloads = known.get("publisher"), known.get("published"), known.get("downloads", 0)
    if publisher is not None and (
        not isinstance(publisher, str) or not publisher or len(publisher) > MAX_PUBLISHER or not publisher.isprintable()
    ):
        raise BadRequest(f"{what}: publisher must be a name of at most {MAX_PUBLISHER} printable characters")
    if published is not None and (
        isinstance(published, bool)
        or not isinstance(published, (int, float))
        or not math.isfinite(published)
        or published < 0
    ):
        raise BadRequest(f"{what}: published must be a time in seconds since 1970")
    if isinstance(downloads, bool) or not isinstance(downloads, int) or not 0 <= downloads <= MAX_DOWNLOADS:
        raise BadRequest(f"{what}: downloads must be a count from 0 to {MAX_DOWNLOADS}")
    return {
        "publisher": publisher,
        "published": float(published) if published is not None else None,
        "downloads": downloads,
    }
