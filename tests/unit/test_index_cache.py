"""The in-memory cache of index files: a hit costs no read, and every index commit (from any process) is seen."""

import os
from types import SimpleNamespace

from palletizer_lib.core.registry import Registry
from palletizer_lib.disk.files import atomic_write
from palletizer_lib.domain.index_entry import parse_lines
from palletizer_lib.domain.names import index_path
from palletizer_lib.index.cache import CachedFile, IndexCache, cached_file
from palletizer_lib.stores import served_index
from palletizer_lib.stores.served_index import ServedFile
from tests.support.publishing import publish


class Locator:
    """`locate` for the cache: the registry's file of `name`, counting the calls."""

    def __init__(self, registry: Registry, name: str) -> None:
        self.registry, self.name, self.calls = registry, name, 0

    def __call__(self) -> ServedFile | None:
        self.calls += 1
        return self.registry.served_index_file(self.name)


def load_file(registry: Registry, name: str) -> CachedFile | None:
    """The served file of `name` as read now, with its ETag."""
    return cached_file(registry.stores.served.read(index_path(name)))


def versions(cached) -> list[tuple[str, bool]]:
    return [(e["vers"], e["yanked"]) for e in parse_lines(cached.data)]


def test_a_hit_reads_nothing_and_matches_the_file(registry: Registry) -> None:
    publish(registry, "hot")
    cache = IndexCache(registry.stores.served)
    locate = Locator(registry, "hot")
    first = cache.get(index_path("hot"), locate)
    again = cache.get(index_path("hot"), locate)
    assert again is first
    assert locate.calls == 1
    assert first == load_file(registry, "hot")


def test_every_change_by_another_writer_is_seen_at_once(registry: Registry) -> None:
    publish(registry, "busy")
    cache = IndexCache(registry.stores.served)
    key, locate = index_path("busy"), Locator(registry, "busy")
    before = cache.get(key, locate)
    # Another Registry object over the same directory stands for another process (the CLI, the api service).
    other = Registry(registry.layout.root)
    other.set_yanked("busy", "1.0.0", True)
    yanked = cache.get(key, locate)
    assert versions(yanked) == [("1.0.0", True)]
    assert yanked.etag != before.etag
    publish(other, "busy", "1.1.0")
    assert versions(cache.get(key, locate)) == [("1.0.0", True), ("1.1.0", False)]
    other.set_yanked("busy", "1.0.0", False)
    assert versions(cache.get(key, locate)) == [("1.0.0", False), ("1.1.0", False)]
    assert cache.get(key, locate).etag == load_file(registry, "busy").etag


def test_a_crate_not_found_is_found_once_published(registry: Registry) -> None:
    publish(registry, "first")
    cache = IndexCache(registry.stores.served)
    locate = Locator(registry, "later")
    assert cache.get(index_path("later"), locate) is None
    assert cache.get(index_path("later"), locate) is None
    assert locate.calls == 1
    publish(Registry(registry.layout.root), "later")
    assert versions(cache.get(index_path("later"), locate)) == [("1.0.0", False)]


def test_a_removed_crate_is_gone_at_once(registry: Registry) -> None:
    publish(registry, "brief")
    cache = IndexCache(registry.stores.served)
    locate = Locator(registry, "brief")
    assert cache.get(index_path("brief"), locate) is not None
    Registry(registry.layout.root).remove("brief", "1.0.0")
    assert cache.get(index_path("brief"), locate) is None


def test_the_byte_budget_bounds_the_cache_but_never_the_answers(registry: Registry) -> None:
    names = [f"crate{i}" for i in range(20)]
    for name in names:
        publish(registry, name)
    size = registry.layout.index_file(names[0]).stat().st_size
    cache = IndexCache(registry.stores.served, max_bytes=4 * (size + 200))
    for _ in range(3):
        for name in names:
            cached = cache.get(index_path(name), Locator(registry, name))
            assert cached == load_file(registry, name)
    assert len(cache._generation.files) <= 4


def test_without_a_head_nothing_is_kept(registry: Registry) -> None:
    publish(registry, "plain")
    registry.layout.index_head.unlink()
    cache = IndexCache(registry.stores.served)
    locate = Locator(registry, "plain")
    cache.get(index_path("plain"), locate)
    cache.get(index_path("plain"), locate)
    assert locate.calls == 2


def test_a_head_replaced_with_an_identical_stat_is_seen_while_young(registry: Registry, monkeypatch) -> None:
    """Within one clock tick a new `.head` may get the old one's inode number and times: while `.head` is
    that young, its content is read on every lookup; once older, a stat is trusted."""
    publish(registry, "tick")
    cache = IndexCache(registry.stores.served)
    key, locate = index_path("tick"), Locator(registry, "tick")
    frozen = os.stat(registry.layout.index_head)
    monkeypatch.setattr(served_index, "os", SimpleNamespace(stat=lambda path: frozen, fstat=os.fstat))
    cache.get(key, locate)
    Registry(registry.layout.root).set_yanked("tick", "1.0.0", True)
    assert versions(cache.get(key, locate)) == [("1.0.0", True)]

    later = served_index.changed_ns(frozen) + served_index.RACY_NS + 1
    monkeypatch.setattr(served_index, "time", SimpleNamespace(time_ns=lambda: later))
    assert versions(cache.get(key, locate)) == [("1.0.0", True)]
    calls = locate.calls
    Registry(registry.layout.root).set_yanked("tick", "1.0.0", False)
    cache.get(key, locate)
    assert locate.calls == calls  # trusted: one stat, no read (a real `.head` this old has a new stat)


def test_rewriting_head_unchanged_still_starts_afresh(registry: Registry) -> None:
    """A repair rewrites index files outside a commit, then `.head` with the same commit id."""
    publish(registry, "mended")
    cache = IndexCache(registry.stores.served)
    key, locate = index_path("mended"), Locator(registry, "mended")
    cache.get(key, locate)
    path = registry.layout.index_file("mended")
    path.write_bytes(path.read_bytes().replace(b'"yanked":false', b'"yanked":true'))
    atomic_write(registry.layout.index_head, registry.layout.index_head.read_bytes())
    assert versions(cache.get(key, locate)) == [("1.0.0", True)]
