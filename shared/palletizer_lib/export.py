"""A registry as plain files any static file server can host: `DIR/index/` (the sparse index, with a
`config.json` whose `dl` points at `DIR/crates/` under the URL DIR is served at) and `DIR/crates/`.

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
from urllib.parse import urlsplit

from . import crate_file
from .crate_store import CrateStore, crate_key
from .errors import BadRequest, Conflict, StorageError
from .index_entry import parse_lines
from .progress import Progress
from .index_store import CONFIG_JSON, CRATES_PREFIX
from .registry import Registry
from .storage import atomic_write, remove_file

INDEX_DIR = "index"
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
    document = {"dl": f"{_url(base_url, '--base-url')}/{CRATES_DIR}/{{crate}}/{{crate}}-{{version}}.crate"}
    if api_url:
        document["api"] = _url(api_url, "--api-url")
    return json.dumps(document, indent=2).encode() + b"\n"


def export_static(registry: Registry, target: Path, base_url: str, api_url: str | None = None,
                  progress: Progress | None = None) -> ExportSummary:
    """Write the registry's newest index commit and its crate files under `target`, for a static server
    that serves `target` at `base_url`. `target` must be missing, empty, or an earlier export."""
    config = static_config(base_url, api_url)
    _check_target(target)
    head = registry.git.head()
    files = [(path, blob_id) for path, blob_id in registry.git.files(head) if path != CONFIG_JSON] if head else []
    before = _Manifest.load(target / MANIFEST)
    after = _Manifest()
    written = _write_if_changed(target / INDEX_DIR / CONFIG_JSON, config)
    index_files = {target / INDEX_DIR / CONFIG_JSON}
    crate_files: dict[Path, tuple[str, str]] = {}
    for done, (path, blob_id) in enumerate(files, 1):
        destination = target / INDEX_DIR / path
        crates = before.crates_of(path, blob_id.decode(), destination)
        if crates is None:
            content = registry.git.blob(blob_id)
            written += _write_if_changed(destination, content)
            crates = [(CRATES_PREFIX + crate_key(e["name"], e["vers"]), e["cksum"]) for e in parse_lines(content)]
        after.add_index(path, blob_id.decode(), destination, crates)
        index_files.add(destination)
        for relative, cksum in crates:
            crate_files[target / relative] = (relative.removeprefix(CRATES_PREFIX), cksum)
        if progress is not None:
            progress("exporting the index", done, len(files))
    for done, (destination, (key, cksum)) in enumerate(crate_files.items(), 1):
        relative = str(destination.relative_to(target))
        if not before.holds_crate(relative, cksum, destination):
            written += _copy_crate(registry.crates, key, destination, cksum)
        after.add_crate(relative, cksum, destination)
        if progress is not None:
            progress("exporting crates", done, len(crate_files))
    removed = _remove_others(target / INDEX_DIR, index_files) + _remove_others(target / CRATES_DIR, set(crate_files))
    if after.document != before.document:
        atomic_write(target / MANIFEST, json.dumps(after.document, separators=(",", ":")).encode())
    return ExportSummary(crates=len(files), versions=len(crate_files), written=written, removed=removed)


class _Manifest:
    """What an export wrote: index path -> [blob id, stamp, [[crate path, cksum], ...]] and
    crate path -> [cksum, stamp], a stamp being a file's [size, modification time in ns]."""

    def __init__(self, document: dict | None = None) -> None:
        self.document = document or {"index": {}, "crates": {}}

    @classmethod
    def load(cls, path: Path) -> "_Manifest":
        """The manifest at `path`; an empty one if it is missing or unreadable."""
        try:
            document = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return cls()
        if not isinstance(document, dict) or not all(isinstance(document.get(k), dict) for k in ("index", "crates")):
            return cls()
        return cls(document)

    def crates_of(self, path: str, blob_id: str, destination: Path) -> list[tuple[str, str]] | None:
        """The crate files of index file `path` if the export holds blob `blob_id` there untouched."""
        entry = self.document["index"].get(path)
        if entry is None or entry[0] != blob_id or entry[1] != _stamp(destination):
            return None
        return [(relative, cksum) for relative, cksum in entry[2]]

    def holds_crate(self, relative: str, cksum: str, destination: Path) -> bool:
        """Whether the export wrote the crate file `relative` with `cksum` and it is untouched since."""
        return self.document["crates"].get(relative) == [cksum, _stamp(destination)]

    def add_index(self, path: str, blob_id: str, destination: Path, crates: list[tuple[str, str]]) -> None:
        self.document["index"][path] = [blob_id, _stamp(destination), [list(c) for c in crates]]

    def add_crate(self, relative: str, cksum: str, destination: Path) -> None:
        self.document["crates"][relative] = [cksum, _stamp(destination)]


def _stamp(path: Path) -> list[int] | None:
    try:
        status = path.stat()
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
        raise StorageError(f"{name} is missing: was its version removed during the export? "
                           "Export again, or run `palletizer verify`")
    if crate_file.checksum(data) != cksum:
        raise StorageError(f"{name} does not match its index entry's checksum: run `palletizer verify`")
    atomic_write(destination, data)
    return 1


def _remove_others(directory: Path, keep: set[Path]) -> int:
    """Delete the files under `directory` not in `keep`, and the directories left empty; how many files."""
    removed = 0
    for root, dirs, files in os.walk(directory, topdown=False):
        for name in files:
            path = Path(root) / name
            if path not in keep:
                remove_file(path)
                removed += 1
        for name in dirs:
            subdirectory = Path(root) / name
            if not any(subdirectory.iterdir()):
                subdirectory.rmdir()
    return removed
