"""A registry as plain files any static file server can host: `DIR/index/` (the sparse index, with a
`config.json` whose `dl` points at `DIR/crates/` under the URL DIR is served at), `DIR/crates/`, and
`DIR/palletizer-state.json`, what `palletizer import DIR` needs beyond them (`export_state`).

The export is of one git commit (the newest), so its index is consistent even while the registry
changes. Exporting again into the same directory brings it up to date: only changed files are
written, and files of versions no longer in the registry are removed. `DIR/.palletizer-export` records
what the last export wrote (each index file's blob id, each file's size and modification time), so a
file that neither git nor the directory changed since is not read again.
A static server checks no token: an export of a registry with `auth_required` is readable by whoever
reaches that server.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from palletizer_lib.admin.export_state import INDEX_DIR, STATE_FILE, state_document
from palletizer_lib.core.registry import Registry
from palletizer_lib.disk.files import atomic_write, remove_file
from palletizer_lib.domain import crate_file, urls
from palletizer_lib.domain.errors import BadRequest, Conflict, StorageError
from palletizer_lib.domain.index_entry import parse_lines
from palletizer_lib.domain.names import crate_key
from palletizer_lib.domain.progress import Progress
from palletizer_lib.stores.crates import CRATES_PREFIX, CrateStore
from palletizer_lib.stores.served_index import CONFIG_JSON

CRATES_DIR = "crates"
MANIFEST = ".palletizer-export"


@dataclass(frozen=True)
class ExportSummary:
    """What an export holds and what it changed in the directory."""

    crates: int
    versions: int
    written: int
    removed: int


def static_config(base_url: str, api_url: str | None) -> bytes:
    """The exported `config.json`: downloads from `BASE/crates/`, the web API at `api_url` if given."""
    return urls.static_config(
        f"{_url(base_url, '--base-url')}/{CRATES_DIR}", _url(api_url, "--api-url") if api_url else None
    )


def export_static(
    registry: Registry, target: Path, base_url: str, api_url: str | None = None, progress: Progress | None = None
) -> ExportSummary:
    """Write the registry's newest index commit and its crate files under `target`, for a static server
    that serves `target` at `base_url`. `target` must be missing, empty, or an earlier export."""
    config = static_config(base_url, api_url)
    _refuse_links(target)
    _check_target(target)
    head = registry.log.head()
    before = _Manifest.load(target / MANIFEST)
    after = _Manifest(head.decode() if head else None)
    files = before.index_files(after.head) or _git_files(registry, head)
    out = str(target)
    written = _write_if_changed(target / INDEX_DIR / CONFIG_JSON, config)
    index_files = {f"{out}/{INDEX_DIR}/{CONFIG_JSON}"}
    crate_files: dict[str, str] = {}
    for done, (path, blob_id) in enumerate(files, 1):
        destination = f"{out}/{INDEX_DIR}/{path}"
        stamp = _stamp(destination)
        crates = before.crates_of(path, blob_id, stamp)
        if crates is None:
            content = registry.log.blob(blob_id.encode())
            written += _write_if_changed(Path(destination), content)
            stamp = _stamp(destination)
            crates = [(CRATES_PREFIX + crate_key(e["name"], e["vers"]), e["cksum"]) for e in parse_lines(content)]
        after.add_index(path, blob_id, stamp, crates)
        index_files.add(destination)
        for relative, cksum in crates:
            crate_files[relative] = cksum
        if progress is not None:
            progress("exporting the index", done, len(files))
    for done, (relative, cksum) in enumerate(crate_files.items(), 1):
        destination = f"{out}/{relative}"
        stamp = _stamp(destination)
        if not before.holds_crate(relative, cksum, stamp):
            written += _copy_crate(registry.crates, relative.removeprefix(CRATES_PREFIX), Path(destination), cksum)
            stamp = _stamp(destination)
        after.add_crate(relative, cksum, stamp)
        if progress is not None:
            progress("exporting crates", done, len(crate_files))
    written += _write_if_changed(target / STATE_FILE, state_document(registry, crate_files))
    removed = _remove_others(f"{out}/{INDEX_DIR}", index_files) + _remove_others(
        f"{out}/{CRATES_DIR}", {f"{out}/{r}" for r in crate_files}
    )
    if after.document != before.document:
        atomic_write(target / MANIFEST, json.dumps(after.document, separators=(",", ":")).encode())
    return ExportSummary(crates=len(files), versions=len(crate_files), written=written, removed=removed)


def _git_files(registry: Registry, head: bytes | None) -> list[tuple[str, str]]:
    """The index files of commit `head` and their blob ids (hex), `config.json` left out."""
    if head is None:
        return []
    return [(path, blob_id.decode()) for path, blob_id in registry.log.files(head) if path != CONFIG_JSON]


class _Manifest:
    """What an export wrote: the commit it exported (`head`), index path -> [blob id, stamp, [[crate path,
    cksum], ...]] and crate path -> [cksum, stamp], a stamp being a file's [size, modification time in ns]."""

    def __init__(self, head: str | None = None, document: dict[str, Any] | None = None) -> None:
        self.document = document or {"head": head, "index": {}, "crates": {}}

    @classmethod
    def load(cls, path: Path) -> "_Manifest":
        """The manifest at `path`; an empty one if it is missing or unreadable."""
        try:
            document = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return cls()
        if not isinstance(document, dict) or not all(isinstance(document.get(k), dict) for k in ("index", "crates")):
            return cls()
        return cls(document=document)

    @property
    def head(self) -> str | None:
        """The commit this export is of."""
        return self.document.get("head")

    def index_files(self, head: str | None) -> list[tuple[str, str]]:
        """The index files and blob ids of commit `head` if this is an export of it (so git need not be
        walked), else an empty list."""
        if head is None or self.head != head:
            return []
        return [(path, entry[0]) for path, entry in self.document["index"].items()]

    def crates_of(self, path: str, blob_id: str, stamp: list[int] | None) -> list[tuple[str, str]] | None:
        """The crate files of index file `path` if the export holds blob `blob_id` there untouched (its file's
        stamp now is `stamp`)."""
        entry = self.document["index"].get(path)
        if entry is None or entry[0] != blob_id or entry[1] != stamp:
            return None
        return [(relative, cksum) for relative, cksum in entry[2]]

    def holds_crate(self, relative: str, cksum: str, stamp: list[int] | None) -> bool:
        """Whether the export wrote the crate file `relative` with `cksum` and it is untouched since (its
        stamp now is `stamp`)."""
        return bool(self.document["crates"].get(relative) == [cksum, stamp])

    def add_index(self, path: str, blob_id: str, stamp: list[int] | None, crates: list[tuple[str, str]]) -> None:
        self.document["index"][path] = [blob_id, stamp, [list(c) for c in crates]]

    def add_crate(self, relative: str, cksum: str, stamp: list[int] | None) -> None:
        self.document["crates"][relative] = [cksum, stamp]


def _stamp(path: str) -> list[int] | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return [status.st_size, status.st_mtime_ns]


def _url(url: str, option: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise BadRequest(f"{option} must be an http:// or https:// URL without query, e.g. https://crates.example.org")
    return url.rstrip("/")


def _check_target(target: Path) -> None:
    """Refuse to write into a directory that holds anything but an earlier export."""
    if target.exists() and not target.is_dir():
        raise Conflict(f"{target} exists and is not a directory")
    earlier = (target / INDEX_DIR / CONFIG_JSON).is_file()
    if target.is_dir() and any(target.iterdir()) and not earlier:
        raise Conflict(f"{target} is neither empty nor an earlier export: choose an empty or new directory")


def _refuse_links(target: Path) -> None:
    """Refuse, before anything changes, a symbolic link where the export writes or deletes (`index/`,
    `crates/`, the manifest, the state file and all under them): the export never writes or deletes through one."""
    for top in (target / INDEX_DIR, target / CRATES_DIR, target / MANIFEST, target / STATE_FILE):
        if top.is_symlink():
            raise Conflict(_link_refused(top, target))
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                if os.path.islink(path := os.path.join(root, name)):
                    raise Conflict(_link_refused(Path(path), target))


def _link_refused(link: Path, target: Path) -> str:
    return (
        f"{link} is a symbolic link: an export writes and deletes only files of its own under {target}, "
        "never through a link; remove the link, or export to another directory"
    )


def _write_if_changed(destination: Path, content: bytes) -> int:
    try:
        if destination.read_bytes() == content:
            return 0
    except FileNotFoundError:
        pass
    atomic_write(destination, content)
    return 1


def _copy_crate(crates: CrateStore, key: str, destination: Path, cksum: str) -> int:
    """Copy a crate file unless the destination already holds it; 1 if copied."""
    try:
        if crate_file.checksum(destination.read_bytes()) == cksum:
            return 0
    except FileNotFoundError:
        pass
    data = crates.get(key)
    name = key.rsplit("/", 1)[-1]
    if data is None:
        raise StorageError(
            f"{name} is missing: was its version removed during the export? Export again, or run `palletizer verify`"
        )
    if crate_file.checksum(data) != cksum:
        raise StorageError(f"{name} does not match its index entry's checksum: run `palletizer verify`")
    atomic_write(destination, data)
    return 1


def _remove_others(directory: str, keep: set[str]) -> int:
    """Delete the files under `directory` (a path written with `/`) not in `keep`, and the directories
    left empty; how many files."""
    removed = 0
    emptied: set[str] = set()
    for root, dirs, files in os.walk(directory, topdown=False):
        for name in files:
            path = f"{root}/{name}"
            if path not in keep:
                remove_file(Path(path))
                removed += 1
                emptied.add(root)
        for name in dirs:
            subdirectory = f"{root}/{name}"
            if subdirectory in emptied and not os.listdir(subdirectory):
                os.rmdir(subdirectory)
                emptied.add(root)
    return removed
