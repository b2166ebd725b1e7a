"""What one anonymous client can make the mirror keep: names the upstream lacks leave nothing on disk, the cache
stays within its size (least recently used first), parsed files within their byte budget, and a crate's page is
parsed once per version of its file; a new crate is checked against the upstream in every `-`/`_` spelling."""

import json
import os
import random
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import Forbidden
from palletizer_lib.domain.names import index_path
from palletizer_lib.mirror import state
from palletizer_lib.mirror.cache import Mirror
from palletizer_lib.mirror.cache_files import encode_cached
from palletizer_lib.mirror.catalog import catalog_of
from palletizer_lib.mirror.mirrored_crate import cached_crate
from palletizer_lib.mirror.policy import check_new_name, spellings
from palletizer_lib.mirror.state import MEMORY_BYTES, MirrorStats
from palletizer_lib.mirror.status import cache_status
from palletizer_lib.mirror.upstream import Upstream
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.views import browse
from tests.support.cratekit import make_crate, metadata
from tests.support.mirrors import mirror_of, registry_of
from tests.support.static_upstream import StaticUpstream


class TickingClock:
    """A wall clock one second later at each reading, so that every use of a cached file has its own time."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


def _mirror(tmp_path: Path, upstream: StaticUpstream, **settings: object) -> Mirror:
    registry = Registry.create(tmp_path / "data", RegistryConfig(upstream=upstream.index_url, **settings))
    return mirror_of(registry, Upstream(upstream.index_url), clock=TickingClock(), stats=MirrorStats())


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _noise(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def test_names_the_upstream_lacks_leave_nothing_on_disk(
    tmp_path: Path, upstream: StaticUpstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "MAX_MISSING", 50)
    mirror = _mirror(tmp_path, upstream)
    names = [f"nope-{number}" for number in range(200)]
    for name in names:
        assert mirror.index_file(name) is None
    assert _files(mirror.layout.mirror / "index") == []
    assert not (mirror.layout.mirror / "index").exists() or not any((mirror.layout.mirror / "index").iterdir())
    assert len(state.MISSING) <= 50
    assert mirror.index_file(names[-1]) is None
    assert upstream.requests[f"/index/{index_path(names[-1])}"] == 1
    assert cache_status(mirror.layout, 300).index_files == 0
    assert registry_of(mirror).search("nope", 10) == (0, [])


def test_a_cache_from_before_the_catalog_is_cleaned_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    registry = Registry.create(data, RegistryConfig(upstream="sparse+http://127.0.0.1:9/index/"))
    for number in range(300):
        path = data / "mirror/index" / index_path(f"gone-{number}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_cached({"missing": True}, b""))
    kept = data / "mirror/index" / index_path("serde")
    kept.parent.mkdir(parents=True, exist_ok=True)
    entry = {"name": "serde", "vers": "1.0.0", "deps": [], "cksum": "0" * 64, "features": {}, "yanked": False}
    kept.write_bytes(encode_cached({}, json.dumps(entry).encode() + b"\n"))
    assert [s.name for s in registry.search("", 10)[1]] == ["serde"]
    assert _files(data / "mirror/index") == [kept]
    assert sorted(p.name for p in (data / "mirror/index").iterdir()) == ["se"]


def test_the_cache_stays_within_its_size_least_recently_used_first(tmp_path: Path, upstream: StaticUpstream) -> None:
    crates = {f"big{n}": make_crate(f"big{n}", "1.0.0", files={"blob": _noise(50_000, n)}) for n in range(6)}
    for name, crate in crates.items():
        upstream.add(name, "1.0.0", crate)
    mirror = _mirror(tmp_path, upstream, mirror_cache_size=200_000)
    own = make_crate("mine", "1.0.0", files={"blob": _noise(60_000, 99)})
    Registry(mirror.layout.root).publish(metadata("mine", "1.0.0"), own)
    for name in ("big0", "big1", "big2"):
        mirror.crate_file(name, "1.0.0")
    mirror.crate_file("big0", "1.0.0")
    mirror.crate_file("big3", "1.0.0")
    assert not mirror.layout.mirror_crate_file("big1", "1.0.0").exists()
    assert mirror.layout.mirror_crate_file("big0", "1.0.0").exists()
    assert mirror.layout.mirror_crate_file("big2", "1.0.0").exists()
    for name in ("big4", "big5"):
        mirror.crate_file(name, "1.0.0")
    on_disk = sum(p.stat().st_size for p in _files(mirror.layout.mirror / "crates"))
    on_disk += sum(p.stat().st_size for p in _files(mirror.layout.mirror / "index"))
    assert on_disk <= 200_000
    assert mirror.layout.mirror_crate_file("big5", "1.0.0").read_bytes() == crates["big5"]
    assert (mirror.layout.root / "crates/mine/mine-1.0.0.crate").read_bytes() == own
    status = cache_status(mirror.layout, 300)
    assert status.index_bytes + status.crate_bytes == on_disk
    assert mirror.crate_file("big1", "1.0.0").read_bytes() == crates["big1"]


def test_parsed_index_files_stay_within_their_byte_budget(tmp_path: Path, upstream: StaticUpstream) -> None:
    crate = make_crate("x", "1.0.0")
    padding = {"pad": ["a" * 1000] * 1000}
    for n in range(40):
        name = f"wide{n}"
        for version in range(3):
            upstream.add(name, f"1.0.{version}", crate)
        path = upstream.root / "index" / index_path(name)
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        path.write_text("".join(json.dumps({**e, "features": padding}) + "\n" for e in lines))
    mirror = _mirror(tmp_path, upstream)
    for _ in range(2):
        for n in range(40):
            assert mirror.upstream_index_file(f"wide{n}") is not None
    assert state.MEMORY.size <= MEMORY_BYTES
    first = mirror.upstream_index_file("wide39")
    assert mirror.upstream_index_file("wide39") is first


def test_a_mirrored_crate_is_parsed_once_per_version_of_its_file_and_its_versions_paged(
    tmp_path: Path, upstream: StaticUpstream
) -> None:
    crate = make_crate("many", "0.0.1")
    for minor in range(250):
        upstream.add("many", f"0.{minor}.0", crate)
    mirror = _mirror(tmp_path, upstream)
    mirror.index_file("many")
    parsed = cached_crate(mirror.layout, "many")
    assert parsed is not None and cached_crate(mirror.layout, "many") is parsed
    registry = registry_of(mirror)
    site_catalog, accounts = registry.stores.catalog, registry.stores.accounts
    page = browse.crate_page(registry, site_catalog, accounts, "many", None, "http://x", versions_page=3)
    assert (page.version_count, page.versions_page, page.versions_pages) == (250, 3, 3)
    assert [r.vers for r in page.versions] == [f"0.{minor}.0" for minor in range(49, -1, -1)]
    assert page.version.vers == "0.249.0"
    os.utime(mirror.layout.mirror_index_file("many"), (1, 1))
    assert cached_crate(mirror.layout, "many") is not parsed


def test_spellings_cover_every_mix() -> None:
    assert spellings("a") == ["a"]
    assert sorted(spellings("foo-bar_baz") or []) == ["foo-bar-baz", "foo-bar_baz", "foo_bar-baz", "foo_bar_baz"]
    assert len(spellings("a-b-c-d-e-f-g") or []) == 64
    assert spellings("a-b-c-d-e-f-g-h") is None


def test_a_new_crate_in_another_mix_of_an_upstream_name_is_refused(tmp_path: Path, upstream: StaticUpstream) -> None:
    upstream.add("foo_bar-baz", "1.0.0", make_crate("foo_bar-baz", "1.0.0"))
    mirror = _mirror(tmp_path, upstream)
    registry = registry_of(mirror)
    with pytest.raises(Forbidden, match="as `foo_bar-baz`"):
        check_new_name(registry.config, registry.layout, registry.is_local, "foo-bar_baz")
    with pytest.raises(Forbidden, match="as `foo_bar-baz`"):
        registry.publish(metadata("Foo-Bar_Baz", "1.0.0"), make_crate("Foo-Bar_Baz", "1.0.0"))
    with pytest.raises(Forbidden, match="cannot be checked"):
        check_new_name(registry.config, registry.layout, registry.is_local, "a-b-c-d-e-f-g-h")
    check_new_name(registry.config, registry.layout, registry.is_local, "foo-bar-qux")
    assert catalog_of(mirror.layout).holds("foo-bar-baz") == "foo_bar-baz"
