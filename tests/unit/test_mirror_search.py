"""Search over the mirror's cache: read from its catalog (made once from the files of a cache that predates
it), shadowed by local crates in any spelling, tolerant of files it cannot use."""

import json
from pathlib import Path

from palletizer_lib.core.registry import Registry
from palletizer_lib.core.search import CrateSummary
from palletizer_lib.domain.names import index_path
from palletizer_lib.mirror.cache_files import encode_cached
from palletizer_lib.mirror.mirrored_crate import cached_crate
from palletizer_lib.mirror.state import MirrorStats
from palletizer_lib.mirror.upstream import Upstream
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cratekit import make_crate, metadata
from tests.support.mirrors import mirror_of
from tests.support.static_upstream import StaticUpstream

UPSTREAM = "sparse+http://127.0.0.1:9/index/"


def _cache(data: Path, name: str, body: str, head: str | None = None, missing: bool = False) -> None:
    path = data / "mirror/index" / index_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = encode_cached({"missing": True} if missing else {}, body.encode())
    path.write_bytes(raw if head is None else head.encode() + b"\n" + body.encode())


def _entry(name: str, vers: str, yanked: bool = False) -> str:
    return (
        json.dumps({"name": name, "vers": vers, "deps": [], "cksum": "0" * 64, "features": {}, "yanked": yanked}) + "\n"
    )


def test_search_reads_the_cache_and_local_crates_shadow_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    registry = Registry.create(data, RegistryConfig(upstream=UPSTREAM, allowed_names=["foo_bar"]))
    registry.publish(metadata("foo_bar", "1.0.0", description="ours"), make_crate("foo_bar", "1.0.0"))
    _cache(data, "foo-bar", _entry("foo-bar", "7.0.0"))
    _cache(
        data,
        "foo-baz",
        _entry("foo-baz", "1.0.0")
        + _entry("foo-baz", "1.1.0-rc.1")
        + _entry("foo-baz", "2.0.0", yanked=True)
        + "not json\n"
        + _entry("foo-baz", "x.y"),
    )
    _cache(data, "foo-gone", "", missing=True)
    _cache(data, "foo-junk", _entry("foo-junk", "1.0.0"), head="garbage")
    _cache(data, "foo-none", "[]\n")
    (data / "mirror/index/fo/o-/.palletizer-tmp-x").write_text("partial")

    total, found = Registry(data).search("foo", 10)
    assert total == 2
    assert found == [
        CrateSummary("foo_bar", "1.0.0", "ours"),
        CrateSummary("foo-baz", "1.0.0", f"mirrored from {UPSTREAM}", UPSTREAM),
    ]
    assert Registry(data).search("foo", 1) == (2, found[:1])
    assert Registry(data).search("baz", 10) == (1, found[1:])
    crate = cached_crate(registry.layout, "foo-baz")
    assert crate is not None and crate.versions == [("2.0.0", True), ("1.1.0-rc.1", False), ("1.0.0", False)]
    assert crate.entry("2.0.0")["yanked"] is True and crate.entry("9.9.9") is None
    assert cached_crate(registry.layout, "foo-gone") is None
    assert cached_crate(registry.layout, "foo-junk") is None
    assert cached_crate(registry.layout, "never") is None
    assert not (data / "mirror/index" / index_path("foo-gone")).exists()


def test_search_follows_what_the_mirror_fetches(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    try:
        upstream.add("serde", "1.0.0", make_crate("serde", "1.0.0"))
        data = tmp_path / "data"
        registry = Registry.create(
            data, RegistryConfig(upstream=upstream.index_url, upstream_freshness=0, allowed_names=["serde_json"])
        )
        mirror = mirror_of(registry, Upstream(upstream.index_url), stats=MirrorStats())
        assert Registry(data).search("serde", 10) == (0, [])
        mirror.index_file("serde")
        assert Registry(data).search("serde", 10)[1][0].max_version == "1.0.0"
        upstream.add("serde", "1.0.1", make_crate("serde", "1.0.1"))
        mirror.index_file("serde")
        assert Registry(data).search("serde", 10)[1][0].max_version == "1.0.1"
        upstream.add("serde_json", "1.0.0", make_crate("serde_json", "1.0.0"))
        mirror.upstream_index_file("serde_json")
        assert [s.name for s in Registry(data).search("serde", 10)[1]] == ["serde", "serde_json"]
        registry.publish(metadata("serde-json", "2.0.0", description="ours"), make_crate("serde-json", "2.0.0"))
        assert [(s.name, s.mirrored_from) for s in Registry(data).search("", 10)[1]] == [
            ("serde-json", None),
            ("serde", upstream.index_url),
        ]
        assert Registry(data).search("serde", 10) == (
            2,
            [
                CrateSummary("serde-json", "2.0.0", "ours"),
                CrateSummary("serde", "1.0.1", f"mirrored from {upstream.index_url}", upstream.index_url),
            ],
        )
    finally:
        upstream.stop()
