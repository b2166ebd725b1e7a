"""The local served index: index files by key under `index/`, the served head beside them."""

import os
from pathlib import Path

import pytest

from palletizer_lib.stores.served_index import HEAD_KEY, LocalServedIndex, ServedFile


@pytest.fixture
def served(tmp_path: Path) -> LocalServedIndex:
    return LocalServedIndex(tmp_path / "index")


def test_put_get_delete_by_key(tmp_path: Path, served: LocalServedIndex) -> None:
    served.put("3/f/foo", b'{"name":"foo"}\n')
    assert (tmp_path / "index" / "3" / "f" / "foo").read_bytes() == b'{"name":"foo"}\n'
    assert served.get("3/f/foo") == b'{"name":"foo"}\n'
    assert served.read("3/f/foo") == (
        (tmp_path / "index" / "3" / "f" / "foo").read_bytes(),
        (tmp_path / "index" / "3" / "f" / "foo").stat().st_mtime,
    )
    served.delete("3/f/foo")
    assert served.get("3/f/foo") is None
    served.delete("3/f/foo")


def test_list_leaves_the_head_out(served: LocalServedIndex) -> None:
    served.put("config.json", b"{}")
    served.put("3/f/foo", b"a")
    served.put("ba/r_/bar_baz", b"b")
    served.put(HEAD_KEY, b"0123\n")
    assert list(served.list()) == ["3/f/foo", "ba/r_/bar_baz", "config.json"]
    assert served.get(HEAD_KEY) == b"0123\n"


def test_a_missing_key_is_none(served: LocalServedIndex) -> None:
    assert served.get("2/ab") is None and list(served.list()) == []


def test_put_leaves_no_temporary_file(tmp_path: Path, served: LocalServedIndex) -> None:
    served.put("2/ab", b"first")
    served.put("2/ab", b"second")
    assert served.get("2/ab") == b"second"
    assert [p.name for p in (tmp_path / "index" / "2").iterdir()] == ["ab"]


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../outside", "2/../../outside"])
def test_a_key_never_reaches_outside_the_directory(served: LocalServedIndex, key: str) -> None:
    with pytest.raises(ValueError):
        served.get(key)


def test_the_version_changes_with_every_head_write(served: LocalServedIndex) -> None:
    assert served.version() is None
    served.put(HEAD_KEY, b"0123\n")
    first = served.version()
    assert first is not None and served.version() == first
    served.put(HEAD_KEY, b"0123\n")
    assert served.version() not in (None, first)
    served.delete(HEAD_KEY)
    assert served.version() is None


def test_read_gives_the_bytes_and_the_file_time(tmp_path: Path, served: LocalServedIndex) -> None:
    served.put("3/f/foo", b"a\n")
    os.utime(tmp_path / "index" / "3" / "f" / "foo", (1_700_000_000, 1_700_000_000))
    assert served.read("3/f/foo") == ServedFile(b"a\n", 1_700_000_000.0)
    assert served.read("3/f/nope") is None
