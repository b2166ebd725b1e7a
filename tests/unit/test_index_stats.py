"""`IndexStats`: the index's size, from the size kept at one commit and the files changed since."""

import json

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.views.index_stats import IndexSize, IndexStats
from tests.support.cratekit import make_crate


def _stats(registry: Registry) -> IndexStats:
    return IndexStats(registry.log, registry.layout.index_size)


def test_counts_follow_adds_yanks_and_removals(registry: Registry) -> None:
    stats = _stats(registry)
    assert stats.current() == IndexSize()
    for name, version in (("foo", "1.0.0"), ("foo", "1.1.0"), ("Bar_x", "0.1.0")):
        registry.add(make_crate(name, version))
    assert stats.current() == IndexSize(crates=2, versions=3, yanked=0)
    registry.set_yanked("foo", "1.0.0", True)
    assert (stats.current().versions, stats.current().yanked) == (3, 1)
    registry.remove("Bar_x", "0.1.0")
    assert stats.current() == IndexSize(crates=1, versions=2, yanked=1)


def _spy_changes(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = registry.log.changes

    def changes(old: bytes | None, new: bytes):
        for change in original(old, new):
            seen.append(change[0])
            yield change

    monkeypatch.setattr(registry.log, "changes", changes)
    return seen


def test_only_the_files_changed_since_the_last_count_are_read(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        registry.add(make_crate(f"crate{i}", "1.0.0"))
    seen = _spy_changes(registry, monkeypatch)
    stats = _stats(registry)
    assert stats.current().crates == 5
    assert sorted(seen) == sorted(["config.json"] + [index_path(f"crate{i}") for i in range(5)])
    seen.clear()
    assert stats.current().crates == 5
    assert seen == []  # nothing changed: nothing read
    registry.add(make_crate("crate2", "2.0.0"))
    assert stats.current().versions == 6
    assert seen == [index_path("crate2")]


def test_a_new_process_starts_from_the_kept_size(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3):
        registry.add(make_crate(f"crate{i}", "1.0.0"))
    registry.set_yanked("crate1", "1.0.0", True)
    assert _stats(registry).current() == IndexSize(crates=3, versions=3, yanked=1)
    kept = json.loads(registry.layout.index_size.read_bytes())
    assert kept == {"head": registry.log.head().decode(), "crates": 3, "versions": 3, "yanked": 1}
    seen = _spy_changes(registry, monkeypatch)
    assert _stats(registry).current() == IndexSize(crates=3, versions=3, yanked=1)
    assert seen == []  # nothing changed since it was kept: nothing read
    registry.remove("crate0", "1.0.0")
    registry.add(make_crate("crate1", "2.0.0"))
    assert _stats(registry).current() == IndexSize(crates=2, versions=3, yanked=1)
    assert sorted(seen) == sorted([index_path("crate0"), index_path("crate1")])


@pytest.mark.parametrize(
    "kept",
    [
        b"not json",
        b'{"head": "00000000000000000000000000000000000000ff"}',
        json.dumps({"head": "ab" * 20, "crates": 9, "versions": 9, "yanked": 9}).encode(),
    ],
)
def test_an_unusable_kept_size_means_a_whole_count(registry: Registry, kept: bytes) -> None:
    registry.add(make_crate("foo", "1.0.0"))
    registry.layout.index_size.write_bytes(kept)
    assert _stats(registry).current() == IndexSize(crates=1, versions=1, yanked=0)
