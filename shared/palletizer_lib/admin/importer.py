"""Adding .crate files made elsewhere: one (`palletizer add`) or a whole directory of them in dependency
order (`palletizer import`), skipping the versions already present with the same bytes.

A crate comes after the crates of the same directory it depends on through this registry (normal and
build dependencies: cargo never resolves a dependency's dev-dependencies, and those may form cycles).
A crate depends on every version in the directory of each such dependency; in the rare case that makes a
cycle (versions of two crates depending on each other's other versions), the smallest crate of the cycle
goes first. Crates that do not depend on each other come by name, then version.
"""

import errno
import heapq
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from palletizer_lib.admin.export_state import ExportState
from palletizer_lib.core.actor import Actor
from palletizer_lib.core.operations import Operations
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import AlreadyPublished, BadRequest, NotFound, PalletizerError
from palletizer_lib.domain.index_entry import IndexEntry
from palletizer_lib.domain.names import CRATE_SUFFIX, normalise
from palletizer_lib.domain.progress import Progress
from palletizer_lib.domain.versions import Version, parse_version

ADDED, SKIPPED, REFUSED = "added", "skipped", "refused"

LINK_SKIPPED = "a symbolic link, not followed"
ORDERING_KINDS = ("normal", "build")


@dataclass(frozen=True)
class Outcome:
    """What became of one .crate file; `name` and `version` are None if the file could not be read."""

    path: Path
    result: str
    name: str | None = None
    version: str | None = None
    reason: str = ""


@dataclass
class ImportReport:
    """What an import did with each file, in the order it handled them; whether it restored the state of
    an export (`restored`), and the users it created to own crates as they did there."""

    outcomes: list[Outcome] = field(default_factory=list)
    restored: bool = False
    created_users: list[str] = field(default_factory=list)

    def count(self, result: str) -> int:
        """How many files had `result` (ADDED, SKIPPED or REFUSED)."""
        return sum(1 for o in self.outcomes if o.result == result)


def crate_files(directory: Path) -> tuple[list[Path], list[Path]]:
    """Every `.crate` file under `directory`, recursively, sorted; and, sorted, the symbolic links met on
    the way (to a directory, or named `.crate`), which are neither followed nor read."""
    if not directory.is_dir():
        raise NotFound(f"{directory} is not a directory")
    files: list[Path] = []
    links: list[Path] = []
    for root, directories, names in os.walk(directory):
        for name in directories + names:
            path = Path(root, name)
            try:
                mode = path.lstat().st_mode
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(mode):
                if name in directories or name.endswith(CRATE_SUFFIX):
                    links.append(path)
            elif stat.S_ISREG(mode) and name.endswith(CRATE_SUFFIX):
                files.append(path)
    return sorted(files), sorted(links)


def import_directory(
    operations: Operations, directory: Path, *, actor: Actor, owner: str | None = None, progress: Progress | None = None
) -> ImportReport:
    """Add every .crate file under `directory` in dependency order as `actor`; skip the versions already
    present with identical bytes; refuse (and report why) whatever `add` refuses. Importing again changes
    nothing. Each file is read twice: once to order it, once to add it.

    If `directory` is an export (it holds `export_state.STATE_FILE`), each version added keeps its yank,
    publication times, publisher and downloads, and each crate it creates its owners (users created as
    needed, without tokens; `owner` only for crates the export names no owner of)."""
    operations.check_user(owner)
    registry = operations.registry
    files, links = crate_files(directory)
    state = ExportState.load(directory)
    report = ImportReport([Outcome(link, SKIPPED, reason=LINK_SKIPPED) for link in links], state is not None)
    readable: list[tuple[Path, IndexEntry]] = []
    for done, path in enumerate(files, 1):
        try:
            readable.append(
                (path, registry.entry_of(registry.read(read_crate_file(path, registry, follow_links=False))))
            )
        except PalletizerError as error:
            report.outcomes.append(Outcome(path, REFUSED, reason=error.detail))
        if progress is not None:
            progress("reading", done, len(files))
    ordered = dependency_order(readable)
    for done, (path, entry) in enumerate(ordered, 1):
        report.outcomes.append(_import_one(operations, path, entry, actor, owner, state, report))
        if progress is not None:
            progress("importing", done, len(ordered))
    return report


def _import_one(
    operations: Operations,
    path: Path,
    entry: IndexEntry,
    actor: Actor,
    owner: str | None,
    state: ExportState | None,
    report: ImportReport,
) -> Outcome:
    name, version = entry["name"], entry["vers"]
    owners = state.owners(name) if state is not None else []
    try:
        history = state.history(entry) if state is not None else None
        operations.add(
            actor, read_crate_file(path, operations.registry, follow_links=False), None if owners else owner, history
        )
    except AlreadyPublished as error:
        if error.identical:
            return Outcome(path, SKIPPED, name, version, "already present with these exact bytes")
        return Outcome(path, REFUSED, name, version, error.detail)
    except PalletizerError as error:
        return Outcome(path, REFUSED, name, version, error.detail)
    report.created_users += operations.restore_owners(actor, name, owners)
    return Outcome(path, ADDED, name, version)


def dependency_order(crates: Iterable[tuple[Path, IndexEntry]]) -> list[tuple[Path, IndexEntry]]:
    """`crates` (file, index entry) with each after the crates of the list its entry depends on through this
    registry (normal and build dependencies); otherwise by name, then version."""
    items = list(crates)
    by_name: dict[str, list[int]] = {}
    for i, (_, entry) in enumerate(items):
        by_name.setdefault(normalise(entry["name"]), []).append(i)
    keys = [(normalise(entry["name"]), parse_version(entry["vers"]), str(path)) for path, entry in items]
    waiting_for: list[set[int]] = []
    dependents: list[list[int]] = [[] for _ in items]
    for i, (_, entry) in enumerate(items):
        needed = {j for name in _local_dependencies(entry) if name != keys[i][0] for j in by_name.get(name, ())}
        waiting_for.append(needed)
        for j in needed:
            dependents[j].append(i)
    ready: list[tuple[tuple[str, Version, str], int]] = [(keys[i], i) for i in range(len(items)) if not waiting_for[i]]
    heapq.heapify(ready)
    placed: set[int] = set()
    order: list[int] = []
    while len(order) < len(items):
        if ready:
            i = heapq.heappop(ready)[1]
        else:  # a cycle: break it at its smallest crate
            i = min((j for j in range(len(items)) if j not in placed), key=lambda j: keys[j])
        placed.add(i)
        order.append(i)
        for dependent in dependents[i]:
            waiting_for[dependent].discard(i)
            if not waiting_for[dependent] and dependent not in placed:
                heapq.heappush(ready, (keys[dependent], dependent))
    return [items[i] for i in order]


def _local_dependencies(entry: IndexEntry) -> set[str]:
    """The normalised names of the crates of this registry an entry needs to be built."""
    return {
        normalise(dep.get("package") or dep["name"])
        for dep in entry["deps"]
        if "registry" not in dep and dep.get("kind", "normal") in ORDERING_KINDS
    }


def read_crate_file(path: Path, registry: Registry, *, follow_links: bool = True) -> bytes:
    """The bytes of a .crate file, its size checked against `registry`'s limit before any is read (and no
    more than one byte past the limit read); BadRequest saying why it cannot be read, PayloadTooLarge if it
    is too large. Without `follow_links`, a symbolic link is refused rather than opened."""
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        reason = "a symbolic link" if exc.errno == errno.ELOOP and not follow_links else exc.strerror or exc
        raise BadRequest(f"cannot read {path}: {reason}") from exc
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise BadRequest(f"cannot read {path}: not a regular file")
        registry.check_crate_size(status.st_size)
        with os.fdopen(os.dup(fd), "rb") as file:
            return file.read(registry.config.max_crate_size + 1)
    except OSError as exc:
        raise BadRequest(f"cannot read {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
