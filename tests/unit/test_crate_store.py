"""The local crate store: files by key under one directory, written atomically, never outside it."""

from pathlib import Path

import pytest

from palletizer_lib.domain.names import crate_key
from palletizer_lib.stores.crates import LocalCrateStore


@pytest.fixture
def store(tmp_path: Path) -> LocalCrateStore:
    return LocalCrateStore(tmp_path / "crates")


def test_put_get_open_and_size(tmp_path: Path, store: LocalCrateStore) -> None:
    key = crate_key("foo", "0.1.0")
    assert key == "foo/foo-0.1.0.crate"
    store.put(key, b"crate bytes")
    assert (tmp_path / "crates" / "foo" / "foo-0.1.0.crate").read_bytes() == b"crate bytes"
    assert store.get(key) == b"crate bytes" and store.exists(key) and store.size(key) == 11
    opened = store.open(key)
    assert opened is not None
    with opened.stream as stream:
        assert opened.size == 11 and stream.read() == b"crate bytes"


def test_a_missing_key_is_none(store: LocalCrateStore) -> None:
    key = crate_key("nope", "1.0.0")
    assert store.get(key) is None and store.open(key) is None and store.size(key) is None
    assert not store.exists(key)
    store.delete(key)


def test_put_replaces_whole_and_leaves_no_temporary_file(tmp_path: Path, store: LocalCrateStore) -> None:
    key = crate_key("foo", "0.1.0")
    store.put(key, b"first")
    store.put(key, memoryview(b"second"))
    assert store.get(key) == b"second"
    assert [p.name for p in (tmp_path / "crates" / "foo").iterdir()] == ["foo-0.1.0.crate"]


def test_delete_removes_the_file_and_its_emptied_directory(tmp_path: Path, store: LocalCrateStore) -> None:
    store.put(crate_key("foo", "0.1.0"), b"a")
    store.put(crate_key("foo", "0.2.0"), b"b")
    store.delete(crate_key("foo", "0.1.0"))
    assert list(store.list()) == ["foo/foo-0.2.0.crate"]
    store.delete(crate_key("foo", "0.2.0"))
    assert list(store.list()) == [] and not (tmp_path / "crates" / "foo").exists()


def test_list_by_prefix_sorted_with_strays(tmp_path: Path, store: LocalCrateStore) -> None:
    for name, version in (("bar", "1.0.0"), ("foo", "0.2.0"), ("foo", "0.1.0")):
        store.put(crate_key(name, version), b"x")
    (tmp_path / "crates" / ".DS_Store").write_bytes(b"junk")
    assert list(store.list()) == [".DS_Store", "bar/bar-1.0.0.crate", "foo/foo-0.1.0.crate", "foo/foo-0.2.0.crate"]
    assert list(store.list("foo/")) == ["foo/foo-0.1.0.crate", "foo/foo-0.2.0.crate"]
    assert list(LocalCrateStore(tmp_path / "absent").list()) == []


def test_discard_partial_drops_an_interrupted_put_only(tmp_path: Path, store: LocalCrateStore) -> None:
    key = crate_key("foo", "0.1.0")
    store.put(key, b"whole")
    (tmp_path / "crates" / "foo" / ".tmp-partial").write_bytes(b"par")
    store.discard_partial(key)
    assert list(store.list()) == [key] and store.get(key) == b"whole"
    store.discard_partial(crate_key("never", "1.0.0"))


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "foo/../../outside", "foo//bar", "./foo"])
def test_a_key_never_reaches_outside_the_directory(store: LocalCrateStore, key: str) -> None:
    with pytest.raises(ValueError):
        store.get(key)
    with pytest.raises(ValueError):
        store.put(key, b"x")
