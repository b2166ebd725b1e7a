"""The index's git repository: the source of truth, one commit per change.

A commit rewrites only the trees on the changed paths, so its cost does not grow
with the number of crates (no staging index, no walk of the whole tree). Commits write loose
objects; once the new commit's object directory holds `loose_per_directory` of them (about
256 times as many in all), the commit packs them (with deltas, which is what keeps the ~700
nearly equal root trees small). A loose object is deleted only at the next packing after the
one that packed it, so a reader in another process that looked in the packs just before a
pack landed still finds the loose copy. Each packing also squashes the history (one commit, no
parent, holding the newest tree, as crates.io does with its index) once it is `squash_after`
commits long, so a clone's size does not grow with the number of changes.
"""

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

from dulwich.diff_tree import TreeChange, tree_changes
from dulwich.errors import ChecksumMismatch, FileFormatException, NotGitRepository
from dulwich.object_store import DiskObjectStore
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree, TreeEntry
from dulwich.pack import deltify_pack_objects
from dulwich.refs import Ref
from dulwich.repo import Repo

from palletizer_lib.disk.files import fsync_dir
from palletizer_lib.domain.errors import StorageError

BRANCH = Ref(b"refs/heads/main")
AUTHOR = b"Palletizer <palletizer@localhost>"
_DIR_MODE = 0o040000
_FILE_MODE = 0o100644
OBJECTS_PER_PACK = 4096

_Kind = TypeVar("_Kind", Commit, Tree, Blob)


class GitIndex:
    """A bare repository whose `main` branch holds `config.json` and every index file."""

    def __init__(self, path: Path, loose_per_directory: int = 16, squash_after: int | None = None) -> None:
        self.path = path
        self.loose_per_directory = loose_per_directory
        self.squash_after = squash_after
        self._repo = Repo(str(path))
        self._repo.object_store.fsync_object_files = True

    @classmethod
    def create(cls, path: Path) -> "GitIndex":
        """Make an empty bare repository with `HEAD` pointing at `main`."""
        Repo.init_bare(str(path), mkdir=True, default_branch=b"main")
        return cls(path)

    def head(self) -> ObjectID | None:
        """The id of the newest commit, or None before the first."""
        head = self._repo.refs.read_ref(BRANCH)
        return None if head is None else ObjectID(head)

    def unreadable(self) -> str | None:
        """Why the repository, its branch or the newest commit cannot be read right now (None if they can).

        Opens the repository afresh, so nothing cached hides a change on disk.
        """
        try:
            with Repo(str(self.path)) as repo:
                head = repo.refs.read_ref(BRANCH)
                if head is not None:
                    commit = _of_kind(Commit, repo[ObjectID(head)])
                    _of_kind(Tree, repo[commit.tree])
        except (OSError, KeyError, NotGitRepository, FileFormatException, ChecksumMismatch, StorageError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def read(self, path: str, commit_id: bytes | None = None) -> bytes | None:
        """The content of `path` at `commit_id` (default: the newest commit), None if absent."""
        commit_id = commit_id or self.head()
        if commit_id is None:
            return None
        tree_id = self._commit(commit_id).tree
        for part in path.encode().split(b"/"):
            tree = self._repo[tree_id]
            if not isinstance(tree, Tree) or part not in tree:
                return None
            _, tree_id = tree[part]
        blob = self._repo[tree_id]
        return blob.data if isinstance(blob, Blob) else None

    def commit(self, changes: dict[str, bytes | None], message: str, when: int | None = None) -> ObjectID:
        """Commit `changes` (path -> new content, None to delete) on top of `main`, dated `when` (POSIX
        seconds; default now): the same changes, message and date on the same parent give the same commit."""
        try:
            return self._write_commit(changes, message, int(time.time()) if when is None else when)
        except OSError as exc:
            raise StorageError(f"could not write the git index: {exc.strerror or exc}") from exc

    def message(self, commit_id: bytes) -> str:
        """The message of commit `commit_id`."""
        message: bytes = self._commit(commit_id).message
        return message.decode("utf-8", "replace")

    def _write_commit(self, changes: dict[str, bytes | None], message: str, when: int) -> ObjectID:
        store = self._repo.object_store
        parent = self.head()
        tree_id = self._commit(parent).tree if parent else None
        for path, content in changes.items():
            blob_id = None
            if content is not None:
                blob = Blob.from_string(content)
                store.add_object(blob)
                blob_id = blob.id
            tree_id = self._set_path(tree_id, path.encode().split(b"/"), blob_id)
        if tree_id is None:
            empty = Tree()
            store.add_object(empty)
            tree_id = empty.id
        commit = _new_commit(tree_id, [parent] if parent else [], message, when)
        store.add_object(commit)
        if not self._repo.refs.set_if_equals(BRANCH, parent, commit.id):
            raise StorageError("the index branch moved during a commit (is another writer ignoring the lock?)")
        if len(os.listdir(self.path / "objects" / commit.id[:2].decode())) >= self.loose_per_directory:
            self.pack_loose_objects()
            if self.squash_after and self.history_length(self.squash_after) >= self.squash_after:
                return self._squash(commit.id, f"Squash the history before: {message}", int(time.time()))
        return commit.id

    def write_root_commit(self, files: Iterable[tuple[str, bytes]], message: str, when: int) -> ObjectID:
        """Write a commit with no parent holding exactly `files` (path and content, in increasing path order),
        dated `when`, without moving the branch (`reset` does); its id. Each tree is written once, as the
        paths leave it, straight into packs of `OBJECTS_PER_PACK` objects (no loose objects, no deltas), so
        neither memory nor the cost per file grows with the index."""
        try:
            return self._write_root_commit(files, message, when)
        except OSError as exc:
            raise StorageError(f"could not write the git index: {exc.strerror or exc}") from exc

    def _write_root_commit(self, files: Iterable[tuple[str, bytes]], message: str, when: int) -> ObjectID:
        objects = _PackWriter(self._repo.object_store, self.path / "objects" / "pack")
        open_trees: list[tuple[list[bytes], Tree]] = [([], Tree())]
        last = ""
        for path, content in files:
            if path <= last:
                raise ValueError(f"index files out of order: {path} after {last}")
            last = path
            *directory, name = path.encode().split(b"/")
            while open_trees[-1][0] != directory[: len(open_trees[-1][0])]:
                _close_tree(open_trees, objects)
            while len(open_trees[-1][0]) < len(directory):
                open_trees.append((directory[: len(open_trees[-1][0]) + 1], Tree()))
            open_trees[-1][1].add(name, _FILE_MODE, objects.add(Blob.from_string(content)))
        while len(open_trees) > 1:
            _close_tree(open_trees, objects)
        commit = _new_commit(objects.add(open_trees[0][1]), [], message, when)
        objects.add(commit)
        objects.flush()
        return commit.id

    def reset(self, commit_id: bytes) -> None:
        """Move the branch to `commit_id`, whatever it held (call under the lock of whoever writes it)."""
        if not self._repo.refs.set_if_equals(BRANCH, self.head(), ObjectID(commit_id)):
            raise StorageError("the index branch moved while it was reset (is another writer ignoring the lock?)")

    def history_length(self, at_most: int) -> int:
        """How many commits the branch's history holds, counting no further than `at_most`."""
        count, commit_id = 0, self.head()
        while commit_id is not None and count < at_most:
            count += 1
            parents = self._commit(commit_id).parents
            commit_id = parents[0] if parents else None
        return count

    def squash(self, message: str, when: int | None = None) -> ObjectID | None:
        """Replace the branch's history by one commit holding its newest tree, dated `when` (default: now)
        (the branch is force-moved; cargo fetches it and resets to it); its id, None before the first
        commit. Call under the registry lock."""
        parent = self.head()
        if parent is None:
            return None
        return self._squash(parent, message, int(time.time()) if when is None else when)

    def _squash(self, parent: ObjectID, message: str, when: int) -> ObjectID:
        commit = _new_commit(self._commit(parent).tree, [], message, when)
        try:
            self._repo.object_store.add_object(commit)
        except OSError as exc:
            raise StorageError(f"could not write the git index: {exc.strerror or exc}") from exc
        if not self._repo.refs.set_if_equals(BRANCH, parent, commit.id):
            raise StorageError("the index branch moved during a squash (is another writer ignoring the lock?)")
        return commit.id

    def pack_loose_objects(self) -> int:
        """Write the loose objects not yet in a pack into a new pack (durably), and delete the loose
        copies of objects an earlier packing packed; how many objects were packed. Call under the
        registry lock."""
        store = self._repo.object_store
        objects_dir = self.path / "objects"
        loose = [
            ObjectID((directory + name).encode())
            for directory in sorted(os.listdir(objects_dir))
            if len(directory) == 2
            for name in os.listdir(objects_dir / directory)
            if len(name) == 38
        ]
        packed_before = [sha for sha in loose if store.contains_packed(sha)]
        unpacked = [store[sha] for sha in loose if not store.contains_packed(sha)]
        if unpacked:
            store.add_pack_data(len(unpacked), deltify_pack_objects(iter(unpacked)))
            fsync_dir(objects_dir / "pack")
        for sha in packed_before:
            store.delete_loose_object(sha)
        return len(unpacked)

    def remove_stale_locks(self, objects_too: bool) -> list[Path]:
        """Delete the `*.lock` files a writer killed mid-commit left (call only under the registry lock,
        when no writer can be running); return what was removed. The branch's own lock costs nothing
        to check; `objects_too` also walks every loose object directory."""
        candidates = [
            self.path / "refs" / "heads" / "main.lock",
            self.path / "HEAD.lock",
            self.path / "packed-refs.lock",
        ]
        if objects_too:
            candidates += list((self.path / "objects").glob("*/*.lock"))
        stale = [p for p in candidates if p.is_file()]
        for path in stale:
            path.unlink()
        return stale

    def changed_paths(self, old: bytes | None, new: bytes) -> Iterator[str]:
        """Paths whose content differs between two commits (`old` None: every path of `new`)."""
        old_tree = self._commit(old).tree if old else None
        for change in tree_changes(self._repo.object_store, old_tree, self._commit(new).tree):
            yield _changed_path(change)

    def changes(self, old: bytes | None, new: bytes) -> Iterator[tuple[str, bytes | None, bytes | None]]:
        """Each path whose content differs between two commits (`old` None: every path of `new`), with its
        content at `old` and at `new` (None where absent)."""
        old_tree = self._commit(old).tree if old else None
        for change in tree_changes(self._repo.object_store, old_tree, self._commit(new).tree):
            yield _changed_path(change), self._content(change.old), self._content(change.new)

    def _content(self, entry: TreeEntry | None) -> bytes | None:
        return None if entry is None else self._blob(entry.sha).data

    def files(self, commit_id: bytes | None = None) -> Iterator[tuple[str, ObjectID]]:
        """Every file at `commit_id` (default: the newest commit) as (path, blob id), each tree read once."""
        commit_id = commit_id or self.head()
        if commit_id is not None:
            yield from self._walk(self._commit(commit_id).tree, "")

    def blob(self, blob_id: bytes) -> bytes:
        """The content of the blob `blob_id` (an id `files` yielded)."""
        return self._blob(blob_id).data

    def _commit(self, commit_id: bytes) -> Commit:
        return _of_kind(Commit, self._repo[ObjectID(commit_id)])

    def _tree(self, tree_id: bytes) -> Tree:
        return _of_kind(Tree, self._repo[ObjectID(tree_id)])

    def _blob(self, blob_id: bytes) -> Blob:
        return _of_kind(Blob, self._repo[ObjectID(blob_id)])

    def _walk(self, tree_id: ObjectID, prefix: str) -> Iterator[tuple[str, ObjectID]]:
        for item in self._tree(tree_id).items():
            path = prefix + item.path.decode()
            if item.mode == _DIR_MODE:
                yield from self._walk(item.sha, path + "/")
            else:
                yield path, item.sha

    def _set_path(self, tree_id: ObjectID | None, parts: list[bytes], blob_id: ObjectID | None) -> ObjectID | None:
        """Return the id of `tree_id` with `parts` set to `blob_id` (or removed); None if empty."""
        tree = _of_kind(Tree, self._tree(tree_id).copy()) if tree_id else Tree()
        head, rest = parts[0], parts[1:]
        if rest:
            sub_id = tree[head][1] if head in tree else None
            new_id, mode = self._set_path(sub_id, rest, blob_id), _DIR_MODE
        else:
            new_id, mode = blob_id, _FILE_MODE
        if new_id is None:
            if head in tree:
                del tree[head]
        else:
            tree.add(head, mode, new_id)
        if not len(tree):
            return None
        self._repo.object_store.add_object(tree)
        return tree.id


def _of_kind(kind: type[_Kind], obj: ShaFile) -> _Kind:
    """`obj` as the `kind` of object it must be; a `StorageError` if the repository holds another there."""
    if not isinstance(obj, kind):
        raise StorageError(
            f"the git index is damaged: object {obj.id.decode()} is a {obj.type_name.decode()}, "
            f"where a {kind.type_name.decode()} belongs"
        )
    return obj


def _changed_path(change: TreeChange) -> str:
    """The path of a change between two trees: its new entry's, or for a deletion its old entry's."""
    entry = change.new or change.old
    assert entry is not None, "a tree change has an entry on at least one side"
    return entry.path.decode()


def _new_commit(tree_id: ObjectID, parents: list[ObjectID], message: str, when: int) -> Commit:
    commit = Commit()
    commit.tree = tree_id
    commit.parents = parents
    commit.author = commit.committer = AUTHOR
    commit.author_time = commit.commit_time = when
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = message.encode("utf-8") + b"\n"
    return commit


class _PackWriter:
    """Objects written in packs of `OBJECTS_PER_PACK` (durably, as loose objects are)."""

    def __init__(self, store: DiskObjectStore, pack_dir: Path) -> None:
        self._store = store
        self._pack_dir = pack_dir
        self._pending: dict[ObjectID, ShaFile] = {}

    def add(self, obj: ShaFile) -> ObjectID:
        """Write `obj` (in the next pack); its id."""
        self._pending[obj.id] = obj
        if len(self._pending) >= OBJECTS_PER_PACK:
            self.flush()
        return obj.id

    def flush(self) -> None:
        """Write what is pending as one pack."""
        if self._pending:
            self._store.add_objects([(obj, None) for obj in self._pending.values()])
            fsync_dir(self._pack_dir)
            self._pending = {}


def _close_tree(open_trees: list[tuple[list[bytes], Tree]], objects: _PackWriter) -> None:
    """Write the innermost open tree and enter it in the one around it."""
    parts, tree = open_trees.pop()
    open_trees[-1][1].add(parts[-1], _DIR_MODE, objects.add(tree))
