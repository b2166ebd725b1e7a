"""Search over the mirror's cache: read from the cached files alone, shadowed by local crates in any
spelling, tolerant of files it cannot use."""

import json
from pathlib import Path

from palletizer_lib.config import RegistryConfig
from palletizer_lib.mirror import cached_entries, encode_cached
from palletizer_lib.crate_names import index_path
from palletizer_lib.crate_search import CrateSummary
from palletizer_lib.registry import Registry
from tests.support.cratekit import make_crate, metadata

UPSTREAM = "sparse+http://127.0.0.1:9/index/"


def _cache(data: Path, name: str, body: str, head: str | None = None, missing: bool = False) -> None:
    path = data / "mirror/index" / index_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = encode_cached({"missing": True} if missing else {}, body.encode())
    path.write_bytes(raw if head is None else head.encode() + b"\n" + body.encode())


def _entry(name: str, vers: str, yanked: bool = False) -> str:
    return json.dumps({"name": name, "vers": vers, "deps": [], "cksum": "0" * 64, "features": {},
                       "yanked": yanked}) + "\n"


def test_search_reads_the_cache_and_local_crates_shadow_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    registry = Registry.create(data, RegistryConfig(upstream=UPSTREAM, allowed_names=["foo_bar"]))
    registry.publish(metadata("foo_bar", "1.0.0", description="ours"), make_crate("foo_bar", "1.0.0"))
    _cache(data, "foo-bar", _entry("foo-bar", "7.0.0"))
    _cache(data, "foo-baz", _entry("foo-baz", "1.0.0") + _entry("foo-baz", "1.1.0-rc.1")
           + _entry("foo-baz", "2.0.0", yanked=True) + "not json\n" + _entry("foo-baz", "x.y"))
    _cache(data, "foo-gone", "", missing=True)
    _cache(data, "foo-junk", _entry("foo-junk", "1.0.0"), head="garbage")
    _cache(data, "foo-none", "[]\n")
    (data / "mirror/index/fo/o-/.palletizer-tmp-x").write_text("partial")

    total, found = Registry(data).search("foo", 10)
    assert total == 2
    assert found == [CrateSummary("foo_bar", "1.0.0", "ours"),
                     CrateSummary("foo-baz", "1.0.0", f"mirrored from {UPSTREAM}", UPSTREAM)]
    assert Registry(data).search("foo", 1) == (2, found[:1])
    assert Registry(data).search("baz", 10) == (1, found[1:])
    assert [e["vers"] for e in cached_entries(registry.layout, "foo-baz") or []] == \
        ["1.0.0", "1.1.0-rc.1", "2.0.0"]
    assert cached_entries(registry.layout, "foo-gone") is None
    assert cached_entries(registry.layout, "foo-junk") is None
    assert cached_entries(registry.layout, "never") is None


def test_a_changed_cache_file_is_read_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig(upstream=UPSTREAM))
    _cache(data, "serde", _entry("serde", "1.0.0"))
    assert Registry(data).search("serde", 10)[1][0].max_version == "1.0.0"
    _cache(data, "serde", _entry("serde", "1.0.0") + _entry("serde", "1.0.1"))
    assert Registry(data).search("serde", 10)[1][0].max_version == "1.0.1"
