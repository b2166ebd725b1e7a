"""`IndexStats`: the index's size, recounted from the files each new commit changed."""

import pytest

from palletizer_lib.index_stats import IndexSize, IndexStats
from palletizer_lib.names import index_path
from palletizer_lib.registry import Registry
from tests.cratekit import make_crate


def test_counts_follow_adds_yanks_and_removals(registry: Registry) -> None:
    stats = IndexStats(registry.git)
    assert stats.current() == IndexSize()
    for name, version in (("foo", "1.0.0"), ("foo", "1.1.0"), ("Bar_x", "0.1.0")):
        registry.add(make_crate(name, version))
    assert stats.current() == IndexSize(crates=2, versions=3, yanked=0, names={"foo": "foo", "bar-x": "Bar_x"})
    registry.set_yanked("foo", "1.0.0", True)
    assert (stats.current().versions, stats.current().yanked) == (3, 1)
    registry.remove("Bar_x", "0.1.0")
    assert stats.current() == IndexSize(crates=1, versions=2, yanked=1, names={"foo": "foo"})


def test_only_the_files_changed_since_the_last_count_are_read(registry: Registry,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        registry.add(make_crate(f"crate{i}", "1.0.0"))
    read: list[str] = []
    original = registry.git.read
    monkeypatch.setattr(registry.git, "read", lambda path, *rest: read.append(path) or original(path, *rest))
    stats = IndexStats(registry.git)
    assert stats.current().crates == 5
    assert len(read) == 5                      # the first count reads every crate's file once
    read.clear()
    assert stats.current().crates == 5
    assert read == []                          # nothing changed: nothing read
    registry.add(make_crate("crate2", "2.0.0"))
    read.clear()                               # (the add itself reads through the same object)
    assert stats.current().versions == 6
    assert read == [index_path("crate2")]
