"""The index's git repository: the source of truth, one commit per change.

A commit rewrites only the trees on the changed paths, so its cost does not grow
with the number of crates (no staging index, no walk of the whole tree).
"""

import time
from collections.abc import Iterator
from pathlib import Path

from dulwich.diff_tree import tree_changes
from dulwich.errors import ChecksumMismatch, FileFormatException, NotGitRepository
from dulwich.objects import Blob, Commit, Tree, TreeEntry
from dulwich.repo import Repo

from .errors import StorageError

BRANCH = b"refs/heads/main"
AUTHOR = b"Palletizer <palletizer@localhost>"
_DIR_MODE = 0o040000
_FILE_MODE = 0o100644


class GitIndex:
    """A bare repository whose `main` branch holds `config.json` and every index file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._repo = Repo(str(path))
        self._repo.object_store.fsync_object_files = True

    @classmethod
    def create(cls, path: Path) -> "GitIndex":
        """Make an empty bare repository with `HEAD` pointing at `main`."""
        Repo.init_bare(str(path), mkdir=True, default_branch=b"main")
        return cls(path)

    def head(self) -> bytes | None:
        """The id of the newest commit, or None before the first."""
        return self._repo.refs.read_ref(BRANCH)

    def unreadable(self) -> str | None:
        """Why the repository, its branch or the newest commit cannot be read right now (None if they can).

        Opens the repository afresh, so nothing cached hides a change on disk.
        """
        try:
            with Repo(str(self.path)) as repo:
                head = repo.refs.read_ref(BRANCH)
                if head is not None:
                    repo[repo[head].tree]
        except (OSError, KeyError, NotGitRepository, FileFormatException, ChecksumMismatch) as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def read(self, path: str, commit_id: bytes | None = None) -> bytes | None:
        """The content of `path` at `commit_id` (default: the newest commit), None if absent."""
        commit_id = commit_id or self.head()
        if commit_id is None:
            return None
        tree_id = self._repo[commit_id].tree
        for part in path.encode().split(b"/"):
            tree = self._repo[tree_id]
            if not isinstance(tree, Tree) or part not in tree:
                return None
            _, tree_id = tree[part]
        blob = self._repo[tree_id]
        return blob.data if isinstance(blob, Blob) else None

    def commit(self, changes: dict[str, bytes | None], message: str) -> bytes:
        """Commit `changes` (path -> new content, None to delete) on top of `main`."""
        try:
            return self._commit(changes, message)
        except OSError as exc:
            raise StorageError(f"could not write the git index: {exc.strerror or exc}") from exc

    def _commit(self, changes: dict[str, bytes | None], message: str) -> bytes:
        store = self._repo.object_store
        parent = self.head()
        tree_id = self._repo[parent].tree if parent else None
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
        commit = Commit()
        commit.tree = tree_id
        commit.parents = [parent] if parent else []
        commit.author = commit.committer = AUTHOR
        commit.author_time = commit.commit_time = int(time.time())
        commit.author_timezone = commit.commit_timezone = 0
        commit.message = message.encode("utf-8") + b"\n"
        store.add_object(commit)
        if not self._repo.refs.set_if_equals(BRANCH, parent, commit.id):
            raise StorageError("the index branch moved during a commit (is another writer ignoring the lock?)")
        return commit.id

    def remove_stale_locks(self, objects_too: bool) -> list[Path]:
        """Delete the `*.lock` files a writer killed mid-commit left (call only under the registry lock,
        when no writer can be running); return what was removed. The branch's own lock costs nothing
        to check; `objects_too` also walks every loose object directory."""
        candidates = [self.path / "refs" / "heads" / "main.lock", self.path / "HEAD.lock",
                      self.path / "packed-refs.lock"]
        if objects_too:
            candidates += list((self.path / "objects").glob("*/*.lock"))
        stale = [p for p in candidates if p.is_file()]
        for path in stale:
            path.unlink()
        return stale

    def changed_paths(self, old: bytes | None, new: bytes) -> Iterator[str]:
        """Paths whose content differs between two commits (`old` None: every path of `new`)."""
        old_tree = self._repo[old].tree if old else None
        for change in tree_changes(self._repo.object_store, old_tree, self._repo[new].tree):
            entry = change.new if change.new is not None and change.new.path else change.old
            yield entry.path.decode()

    def changes(self, old: bytes | None, new: bytes) -> Iterator[tuple[str, bytes | None, bytes | None]]:
        """Each path whose content differs between two commits (`old` None: every path of `new`), with its
        content at `old` and at `new` (None where absent)."""
        old_tree = self._repo[old].tree if old else None
        for change in tree_changes(self._repo.object_store, old_tree, self._repo[new].tree):
            entry = change.new if change.new is not None and change.new.path else change.old
            yield entry.path.decode(), self._blob(change.old), self._blob(change.new)

    def _blob(self, entry: TreeEntry | None) -> bytes | None:
        return self._repo[entry.sha].data if entry is not None and entry.sha is not None else None

    def files(self, commit_id: bytes | None = None) -> Iterator[str]:
        """Every file path at `commit_id` (default: the newest commit)."""
        commit_id = commit_id or self.head()
        if commit_id is not None:
            yield from self._walk(self._repo[commit_id].tree, "")

    def _walk(self, tree_id: bytes, prefix: str) -> Iterator[str]:
        for item in self._repo[tree_id].items():
            path = prefix + item.path.decode()
            if item.mode == _DIR_MODE:
                yield from self._walk(item.sha, path + "/")
            else:
                yield path

    def _set_path(self, tree_id: bytes | None, parts: list[bytes], blob_id: bytes | None) -> bytes | None:
        """Return the id of `tree_id` with `parts` set to `blob_id` (or removed); None if empty."""
        tree = self._repo[tree_id].copy() if tree_id else Tree()
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
