"""A registry as plain files any static file server can host: `DIR/index/` (the sparse index, with a
`config.json` whose `dl` points at `DIR/crates/` under the URL DIR is served at) and `DIR/crates/`.

The export is of one git commit (the newest), so its index is consistent even while the registry
changes. Exporting again into the same directory brings it up to date: only changed files are
written, and files of versions no longer in the registry are removed.
A static server checks no token: an export of a registry with `auth_required` is readable by whoever
reaches that server.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from . import crate_file
from .errors import BadRequest, Conflict, StorageError
from .index_entry import parse_lines
from .progress import Progress
from .registry import CONFIG_JSON, Registry
from .storage import atomic_write, remove_file

INDEX_DIR = "index"
CRATES_DIR = "crates"


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
    paths = [path for path in registry.git.files(head) if path != CONFIG_JSON] if head else []
    written = _write_if_changed(target / INDEX_DIR / CONFIG_JSON, config)
    index_files = {target / INDEX_DIR / CONFIG_JSON}
    crate_files: dict[Path, tuple[Path, str]] = {}
    for done, path in enumerate(paths, 1):
        content = registry.git.read(path, head) or b""
        written += _write_if_changed(target / INDEX_DIR / path, content)
        index_files.add(target / INDEX_DIR / path)
        for entry in parse_lines(content):
            source = registry.layout.crate_file(entry["name"], entry["vers"])
            crate_files[target / source.relative_to(registry.layout.root)] = (source, entry["cksum"])
        if progress is not None:
            progress("exporting the index", done, len(paths))
    for done, (destination, (source, cksum)) in enumerate(crate_files.items(), 1):
        written += _copy_crate(source, destination, cksum)
        if progress is not None:
            progress("exporting crates", done, len(crate_files))
    removed = _remove_others(target / INDEX_DIR, index_files) + _remove_others(target / CRATES_DIR, set(crate_files))
    return ExportSummary(crates=len(paths), versions=len(crate_files), written=written, removed=removed)


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


def _copy_crate(source: Path, destination: Path, cksum: str) -> int:
    """Copy a crate file unless the destination already holds it; 1 if copied."""
    try:
        if crate_file.checksum(destination.read_bytes()) == cksum:
            return 0
    except FileNotFoundError:
        pass
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise StorageError(f"{source.name} is missing: was its version removed during the export? "
                           "Export again, or run `palletizer verify`") from None
    if crate_file.checksum(data) != cksum:
        raise StorageError(f"{source.name} does not match its index entry's checksum: run `palletizer verify`")
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
