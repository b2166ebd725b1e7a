"""The git index: commits, reads, history, diffs and the cost of a commit."""

from itertools import pairwise
from pathlib import Path

import pytest
from dulwich.objects import Blob, Commit
from dulwich.repo import Repo

from palletizer_lib.domain.errors import StorageError
from palletizer_lib.stores.git_index import AUTHOR, BRANCH, GitIndex


@pytest.fixture
def git(tmp_path: Path) -> GitIndex:
    """An empty bare index repository."""
    return GitIndex.create(tmp_path / "index.git")


def object_ids(git: GitIndex) -> set[bytes]:
    """Every object id in the repository, read through a separate handle."""
    return set(Repo(str(git.path)).object_store)


def tree_id(git: GitIndex, commit_id: bytes, path: str) -> bytes:
    """The id of the tree at `path` (a directory) in `commit_id`."""
    repo = Repo(str(git.path))
    current = repo[commit_id].tree
    for part in path.split("/"):
        current = repo[current][part.encode()][1]
    return current


def test_a_new_repository_is_bare_and_empty(git: GitIndex) -> None:
    repo = Repo(str(git.path))
    assert repo.bare
    assert repo.refs.get_symrefs()[b"HEAD"] == BRANCH
    assert git.head() is None
    assert git.read("config.json") is None
    assert list(git.files()) == []


def test_commit_then_read(git: GitIndex) -> None:
    head = git.commit({"config.json": b"{}\n", "3/f/foo": b'{"name":"foo"}\n'}, "First")
    assert git.head() == head
    assert git.read("config.json") == b"{}\n"
    assert git.read("3/f/foo") == b'{"name":"foo"}\n'
    assert git.read("3/f/bar") is None
    assert git.read("3/f") is None, "a directory is not a file"
    assert git.read("3/f/foo/deeper") is None
    assert git.read("nope/x") is None


def test_commit_metadata(git: GitIndex) -> None:
    head = git.commit({"1/a": b"a\n"}, "Publish a 1.0.0")
    commit = Repo(str(git.path))[head]
    assert isinstance(commit, Commit)
    assert commit.message == b"Publish a 1.0.0\n"
    assert commit.author == commit.committer == AUTHOR
    assert commit.parents == []


def test_read_at_an_older_commit(git: GitIndex) -> None:
    first = git.commit({"1/a": b"one\n"}, "one")
    git.commit({"1/a": b"two\n"}, "two")
    assert git.read("1/a") == b"two\n"
    assert git.read("1/a", first) == b"one\n"


def test_history_is_linear(git: GitIndex) -> None:
    ids = [git.commit({"1/a": f"{i}\n".encode()}, f"change {i}") for i in range(4)]
    repo = Repo(str(git.path))
    assert len(set(ids)) == 4
    assert repo[ids[0]].parents == []
    for parent, child in pairwise(ids):
        assert repo[child].parents == [parent]
    assert [entry.commit.id for entry in repo.get_walker(include=[ids[-1]])] == list(reversed(ids))


def test_delete_removes_the_file_and_empty_directories(git: GitIndex) -> None:
    git.commit({"ab/cd/abcd": b"x\n", "ab/ce/abce": b"y\n", "1/a": b"z\n"}, "add")
    git.commit({"ab/cd/abcd": None}, "remove abcd")
    assert git.read("ab/cd/abcd") is None
    assert sorted(dict(git.files())) == ["1/a", "ab/ce/abce"]
    repo = Repo(str(git.path))
    assert b"cd" not in repo[tree_id(git, git.head(), "ab")]
    git.commit({"ab/ce/abce": None}, "remove abce")
    assert b"ab" not in repo[repo[git.head()].tree]


def test_deleting_everything_leaves_an_empty_tree(git: GitIndex) -> None:
    git.commit({"1/a": b"a\n"}, "add")
    head = git.commit({"1/a": None}, "remove")
    repo = Repo(str(git.path))
    assert len(repo[repo[head].tree]) == 0
    assert list(git.files()) == []


def test_deleting_a_missing_path_is_harmless(git: GitIndex) -> None:
    git.commit({"1/a": b"a\n"}, "add")
    git.commit({"2/zz": None, "1/b": None}, "noop")
    assert list(dict(git.files())) == ["1/a"]


def test_files_lists_every_path(git: GitIndex) -> None:
    paths = {"config.json": b"{}", "1/a": b"", "2/ab": b"", "3/a/abc": b"", "ab/cd/abcd": b"", "ab/cd/abcde": b""}
    first = git.commit(paths, "all")
    git.commit({"2/ab": None}, "less")
    assert sorted(dict(git.files())) == sorted(set(paths) - {"2/ab"})
    assert sorted(dict(git.files(first))) == sorted(paths)


def test_files_yields_each_file_s_blob(git: GitIndex) -> None:
    contents = {"1/a": b"a\n", "3/a/abc": b"abc\n", "ab/cd/abcd": b"abcd\n"}
    git.commit(contents, "add")
    git.commit({"1/a": b"a2\n"}, "change")
    assert {path: git.blob(blob_id) for path, blob_id in git.files()} == {**contents, "1/a": b"a2\n"}


def test_changed_paths(git: GitIndex) -> None:
    first = git.commit({"config.json": b"{}", "1/a": b"a1", "2/ab": b"ab1", "ab/cd/abcd": b"x"}, "one")
    second = git.commit({"1/a": b"a2", "2/ab": None, "3/x/xyz": b"new", "ab/cd/abcd": b"x"}, "two")
    assert sorted(git.changed_paths(first, second)) == ["1/a", "2/ab", "3/x/xyz"]
    assert sorted(git.changed_paths(None, first)) == ["1/a", "2/ab", "ab/cd/abcd", "config.json"]
    assert list(git.changed_paths(second, second)) == []
    assert sorted(git.changed_paths(second, first)) == ["1/a", "2/ab", "3/x/xyz"]


def test_a_commit_only_writes_objects_along_the_changed_path(git: GitIndex) -> None:
    names = [a + b + c + d for a in "ab" for b in "cd" for c in "ef" for d in "gh"]
    files = {f"{n[:2]}/{n[2:]}/{n}": f"{n}\n".encode() for n in names}
    before_head = git.commit({**files, "config.json": b"{}", "1/q": b"q\n"}, "many")
    before = object_ids(git)
    head = git.commit({"ac/eg/aceg": b"changed\n"}, "one file")
    added = object_ids(git) - before
    repo = Repo(str(git.path))
    # the blob, the trees `ac/eg`, `ac` and the root, and the commit: nothing else
    assert len(added) == 5
    assert sorted(type(repo[i]).__name__ for i in added) == ["Blob", "Commit", "Tree", "Tree", "Tree"]
    assert tree_id(git, head, "ac/eg") in added and tree_id(git, head, "ac") in added
    for unchanged in ("ac/eh", "ad", "bc", "bd/fh", "1"):
        assert tree_id(git, head, unchanged) == tree_id(git, before_head, unchanged)


def test_two_handles_see_each_others_commits(git: GitIndex) -> None:
    git.commit({"1/a": b"a\n"}, "one")
    other_head = GitIndex(git.path).commit({"1/b": b"b\n"}, "elsewhere")
    assert git.head() == other_head
    assert sorted(dict(git.files())) == ["1/a", "1/b"]


def test_a_commit_on_a_stale_head_is_refused(git: GitIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = git.commit({"1/a": b"a\n"}, "one")
    current = git.commit({"1/b": b"b\n"}, "two")
    monkeypatch.setattr(git, "head", lambda: stale)
    with pytest.raises(StorageError, match="moved during a commit"):
        git.commit({"1/c": b"c\n"}, "three")
    assert GitIndex(git.path).head() == current


def loose_objects(git: GitIndex) -> list[Path]:
    return [p for p in (git.path / "objects").glob("??/*") if len(p.name) == 38]


def test_commits_pack_their_loose_objects_and_keep_every_commit_readable(tmp_path: Path) -> None:
    GitIndex.create(tmp_path / "index.git")
    git = GitIndex(tmp_path / "index.git", loose_per_directory=2)
    heads = [
        git.commit({f"3/c/c{i:03}": f"{i}\n".encode(), "1/a": f"a{i}\n".encode()}, f"commit {i}") for i in range(300)
    ]
    assert list((git.path / "objects" / "pack").glob("*.idx"))
    assert len(loose_objects(git)) < 2 * 256 * 2 + 256
    assert len(loose_objects(git)) < 2 * len(heads)
    fresh = GitIndex(git.path)
    assert fresh.read("1/a") == b"a299\n"
    assert all(fresh.read(f"3/c/c{i:03}", head) == f"{i}\n".encode() for i, head in enumerate(heads))


def test_a_loose_object_outlives_the_packing_that_packed_it(git: GitIndex) -> None:
    git.commit({"1/a": b"a\n"}, "one")
    first = loose_objects(git)
    assert git.pack_loose_objects() == len(first)
    assert loose_objects(git) == first
    git.commit({"1/b": b"b\n"}, "two")
    git.pack_loose_objects()
    assert not set(first) & set(loose_objects(git))
    assert GitIndex(git.path).read("1/a") == b"a\n"


def test_a_packing_squashes_a_history_of_squash_after_commits(tmp_path: Path) -> None:
    GitIndex.create(tmp_path / "index.git")
    git = GitIndex(tmp_path / "index.git", loose_per_directory=2, squash_after=50)
    for i in range(200):
        git.commit({f"3/c/c{i:03}": b"x\n"}, f"commit {i}")
    assert git.history_length(1000) < 50 + 2 * 256
    assert git.history_length(1000) < 200
    assert sorted(dict(git.files())) == [f"3/c/c{i:03}" for i in range(200)]


def test_squash_before_the_first_commit_does_nothing(git: GitIndex) -> None:
    assert git.squash("squash") is None
    assert git.head() is None


FILES = {
    "1/a": b"a\n",
    "2/ab": b"ab\n",
    "3/f/foo": b"foo\n",
    "ab/cd/abcd": b"abcd\n",
    "ab/cd/abcde": b"e\n",
    "ab/ce/abce": b"ce\n",
    "config.json": b"{}\n",
    "zz/zz/zzzz": b"z\n",
}


def test_a_root_commit_of_files_is_the_commit_a_commit_of_the_same_files_would_be(tmp_path: Path) -> None:
    committed = GitIndex.create(tmp_path / "committed.git")
    expected = committed.commit(FILES, "Everything", when=1_700_000_000)
    replaced = GitIndex.create(tmp_path / "replaced.git")
    replaced.commit({"1/old": b"old\n", "ab/cd/abcd": b"old\n"}, "an older history", when=1)
    replaced.commit({"3/x/xyz": b"xyz\n"}, "and more", when=2)
    before = replaced.head()
    assert replaced.write_root_commit(sorted(FILES.items()), "Everything", 1_700_000_000) == expected
    assert replaced.head() == before  # written, not yet the branch's
    replaced.reset(expected)
    assert replaced.head() == expected and replaced.history_length(10) == 1
    assert dict((path, replaced.blob(blob)) for path, blob in GitIndex(replaced.path).files()) == FILES
    assert all(Repo(str(replaced.path)).object_store.contains_packed(blob) for _, blob in replaced.files())


def test_a_root_commit_of_no_files_holds_an_empty_tree(git: GitIndex) -> None:
    git.commit({"1/a": b"a\n"}, "one")
    git.reset(git.write_root_commit([], "nothing", 5))
    assert list(git.files()) == [] and git.history_length(10) == 1


def test_a_root_commit_refuses_files_out_of_order(git: GitIndex) -> None:
    head = git.commit({"1/a": b"a\n"}, "one")
    with pytest.raises(ValueError, match="out of order: 1/b after 3/f/foo"):
        git.write_root_commit([("3/f/foo", b"x\n"), ("1/b", b"y\n")], "wrong", 5)
    with pytest.raises(ValueError, match="out of order: 1/a after 1/a"):
        git.write_root_commit([("1/a", b"x\n"), ("1/a", b"y\n")], "twice", 5)
    assert git.head() == head


def test_a_root_commit_is_written_in_packs_as_it_goes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from palletizer_lib.stores import git_index

    monkeypatch.setattr(git_index, "OBJECTS_PER_PACK", 10)
    git = GitIndex.create(tmp_path / "index.git")
    files = [(f"3/c/c{i:03}", f"{i}\n".encode()) for i in range(45)]
    git.reset(git.write_root_commit(files, "many", 5))  # 45 blobs, 2 trees, the root and the commit
    assert len(list((git.path / "objects" / "pack").glob("*.pack"))) == 5
    assert loose_objects(git) == []
    assert dict((path, git.blob(blob)) for path, blob in GitIndex(git.path).files()) == dict(files)


def test_an_object_of_the_wrong_kind_is_a_storage_error(git: GitIndex) -> None:
    commit_id = git.commit({"config.json": b"{}"}, "first")
    tree = Repo(str(git.path))[commit_id].tree
    with pytest.raises(StorageError, match=f"{tree.decode()} is a tree, where a blob belongs"):
        git.blob(tree)
    blob = Blob.from_string(b"not a commit")
    Repo(str(git.path)).object_store.add_object(blob)
    git.reset(blob.id)
    with pytest.raises(StorageError, match=f"{blob.id.decode()} is a blob, where a commit belongs"):
        git.read("config.json")
    assert git.unreadable() == (
        f"StorageError: the git index is damaged: object {blob.id.decode()} is a blob, where a commit belongs"
    )
