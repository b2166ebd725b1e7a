"""Keeping a registry sound: what stops it serving (`health`), every disagreement between its parts
(`verify`), undoing what an interrupted writer left (`recover`) and rewriting what is derived from git
(`repair`). Each takes the registry's `IndexStore` and is called under the registry lock where it writes."""

import os
from collections.abc import Iterator
from pathlib import Path

from palletizer_lib.disk.files import TEMP_PREFIX, atomic_write, remove_file
from palletizer_lib.domain import crate_file
from palletizer_lib.domain.index_entry import parse_lines
from palletizer_lib.domain.names import crate_key, index_path, normalise
from palletizer_lib.domain.progress import Progress
from palletizer_lib.index.store import IndexStore
from palletizer_lib.stores.crates import CRATES_PREFIX
from palletizer_lib.stores.served_index import CONFIG_JSON


def health(store: IndexStore) -> list[str]:
    """What keeps the registry from serving reads and writes right now (empty if nothing): a data directory
    that is missing or not writable, a git index (or a database) that cannot be read, a bucket that cannot
    be reached."""
    directories = store.stores.directories
    problems = [f"{name} {reason}" for name, path in directories.items() if (reason := _unwritable(path))]
    reason = store.log.unreadable()
    if reason is not None:
        where = "the git index (index.git/)" if store.stores.replica is None else "the index in the database"
        problems.append(f"{where} cannot be read: {reason}")
    reason = store.crates.unreadable()
    if reason is not None:
        problems.append(f"the crate files cannot be reached: {reason}")
    return problems


def verify(store: IndexStore, progress: Progress | None = None) -> list[str]:
    """Every disagreement between the git index, the served files and the crate files (`progress` is told
    of each index file checked)."""
    problems: list[str] = []
    if not store.is_current():
        problems.append("the served index files are behind the git index (a write was interrupted)")
    if store.pending_key() is not None:
        problems.append("`pending` names a crate file whose publish was interrupted")
    referenced: set[str] = set()
    files = [(path, blob_id) for path, blob_id in store.log.files() if path != CONFIG_JSON]
    for done, (path, blob_id) in enumerate(files, 1):
        problems.extend(_verify_index_file(store, path, store.log.blob(blob_id), referenced))
        if progress is not None:
            progress("verifying", done, len(files))
    problems += [
        f"{CRATES_PREFIX}{key}: no index entry refers to it" for key in store.crates.list() if key not in referenced
    ]
    return problems


def _verify_index_file(store: IndexStore, path: str, data: bytes, referenced: set[str]) -> Iterator[str]:
    if store.served.get(path) != data:
        yield f"index/{path}: differs from the git index"
    try:
        entries = parse_lines(data)
    except ValueError as exc:
        yield f"index/{path}: not valid JSON lines ({exc})"
        return
    for entry in entries:
        name, vers = entry.get("name", "?"), entry.get("vers", "?")
        if index_path(name) != path:
            yield f"index/{path}: holds an entry for `{name}`, which belongs elsewhere"
            continue
        key = crate_key(name, vers)
        referenced.add(key)
        stored = store.crates.get(key)
        if stored is None:
            yield f"{name} {vers}: the crate file is missing"
        elif crate_file.checksum(stored) != entry.get("cksum"):
            yield f"{name} {vers}: the crate file's checksum does not match the index"
    if entries and store.canonical_name(entries[0].get("name", "")) != entries[0].get("name"):
        yield f"index/{path}: the crate has no summary in names/"


def recover(store: IndexStore, objects_too: bool) -> list[str]:
    """Finish or undo an interrupted change: stale git locks removed, a crate file whose publish never
    committed deleted, the served index brought up to git; without `objects_too` it costs a few file checks."""
    changes = [
        f"removed the stale git lock {p.relative_to(store.layout.root)}"
        for p in store.log.remove_stale_locks(objects_too)
    ]
    key = store.pending_key()
    if key is not None:
        name = key.split("/", 1)[0]
        referenced = any(
            key == crate_key(e["name"], e["vers"]) for e in parse_lines(store.log.read(index_path(name)) or b"")
        )
        if not referenced and store.crates.exists(key):
            store.crates.delete(key)
            changes.append(f"removed {CRATES_PREFIX}{key}, written by a publish that never committed")
        store.crates.discard_partial(key)
        store.clear_pending()
    if not store.is_current():
        store.sync_served_index()
        changes.append("brought the served index up to the git index")
    return changes


def remove_leftovers(store: IndexStore) -> list[str]:
    """Delete the temporary files of writes that never finished."""
    root = store.layout.root
    changes = []
    for leftover in sorted(root.rglob(TEMP_PREFIX + "*")):
        remove_file(leftover)
        changes.append(f"removed the leftover temporary file {leftover.relative_to(root)}")
    return changes


def repair(store: IndexStore) -> list[str]:
    """`recover` (walking every file), then crate files no entry names are moved to `orphans/` (never
    deleted), and served index files and summaries that disagree with git are rewritten from it (then the
    served head too, so that servers caching the index see the change); the search table and the reverse
    dependencies are rebuilt."""
    changes = recover(store, objects_too=True) + remove_leftovers(store)
    changes += set_orphans_aside(store)
    rewritten = rewrite_derived(store)
    store.rebuild_search_index()
    store.rebuild_reverse_dependencies()
    if rewritten:
        store.mark_served()
    return changes + rewritten


def set_orphans_aside(store: IndexStore) -> list[str]:
    """Move each crate file no index entry names to `orphans/` (copied there before it is deleted)."""
    referenced = {
        crate_key(e["name"], e["vers"])
        for path, blob_id in store.log.files()
        if path != CONFIG_JSON
        for e in parse_lines(store.log.blob(blob_id))
    }
    orphans = store.layout.orphans
    changes = []
    for key in store.crates.list():
        if "/" not in key or key in referenced:
            continue
        data = store.crates.get(key)
        if data is None:
            continue
        target = orphans / key.rsplit("/", 1)[-1]
        orphans.mkdir(exist_ok=True)
        atomic_write(target, data)
        store.crates.delete(key)
        changes.append(
            f"moved {CRATES_PREFIX}{key}, which no index entry names, to {target.relative_to(store.layout.root)}"
        )
    return changes


def rewrite_derived(store: IndexStore) -> list[str]:
    """Rewrite every served index file and summary that disagrees with git."""
    changes = []
    in_git = dict(store.log.files())
    for path in sorted(in_git.keys() | set(store.served.list())):
        content = store.log.blob(in_git[path]) if path in in_git else None
        if store.served.get(path) != content:
            if content is None:
                store.served.delete(path)
            else:
                store.served.put(path, content)
            changes.append(f"rewrote index/{path} from the git index")
        if path != CONFIG_JSON and store.sync_summary(path, content, {}) and content is not None:
            changes.append(f"rewrote names/{normalise(path.rsplit('/', 1)[-1])}.json from the git index")
    known = {normalise(path.rsplit("/", 1)[-1]) for path in in_git if path != CONFIG_JSON}
    for key in sorted(set(store.summaries.keys()) - known):
        store.summaries.delete(key)
        changes.append(f"removed names/{key}.json, the summary of a crate that does not exist")
    return changes


def _unwritable(directory: Path) -> str | None:
    if not directory.is_dir():
        return "is missing (or not a directory)"
    if not os.access(directory, os.W_OK | os.X_OK):
        return "is not writable"
    return None
