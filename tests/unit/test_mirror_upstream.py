"""The upstream client and the mirror cache, against a real static sparse registry on loopback."""

import fcntl
import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.disk.layout import MIRROR_LOCK_STRIPES
from palletizer_lib.domain.errors import BadRequest, Forbidden, NotFound, UpstreamError
from palletizer_lib.mirror.cache import Mirror
from palletizer_lib.mirror.policy import allow_name
from palletizer_lib.mirror.state import MISSING_TTL, PENDING, WRITER, MirrorStats
from palletizer_lib.mirror.upstream import Upstream, download_url
from palletizer_lib.settings.config import RegistryConfig, validate_upstream
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate, metadata
from tests.support.mirrors import mirror_of, registry_of
from tests.support.server import BIN, palletizer
from tests.support.static_upstream import StaticUpstream
from tests.support.terminal import run_on_terminal


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _mirror(tmp_path: Path, upstream: StaticUpstream, clock: Clock, **options: object) -> Mirror:
    registry = Registry.create(tmp_path / "data", RegistryConfig(upstream=upstream.index_url, upstream_freshness=300))
    return mirror_of(registry, Upstream(upstream.index_url, **options), clock=clock, stats=MirrorStats())


def _lines(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.splitlines()]


def test_download_url_follows_cargo() -> None:
    assert (
        download_url("https://static.crates.io/crates", "Serde", "1.0.0", "ab")
        == "https://static.crates.io/crates/Serde/1.0.0/download"
    )
    assert download_url("https://h/x/", "serde", "1.0.0", "ab") == "https://h/x/serde/1.0.0/download"
    template = "https://h/{prefix}/{lowerprefix}/{crate}/{crate}-{version}.crate?sum={sha256-checksum}"
    assert download_url(template, "AbCd", "0.1.0", "ff") == "https://h/Ab/Cd/ab/cd/AbCd/AbCd-0.1.0.crate?sum=ff"
    assert download_url("https://h/{prefix}/{crate}", "a", "1.0.0", "ff") == "https://h/1/a"
    assert download_url("https://h/{lowerprefix}/{crate}", "Abc", "1.0.0", "ff") == "https://h/3/a/Abc"
    assert download_url("https://h/{crate}-{version}", "ab", "1.0.0", "ff") == "https://h/ab-1.0.0"


@pytest.mark.parametrize(
    "url",
    [
        "https://index.crates.io/",
        "sparse+ftp://x/",
        "sparse+https:///index/",
        "sparse+https://host/a b/",
        "",
        "git+https://github.com/x",
    ],
)
def test_bad_upstream_urls_are_refused(url: str) -> None:
    with pytest.raises(BadRequest, match="upstream"):
        validate_upstream(url)


def test_upstream_setting(tmp_path: Path) -> None:
    assert validate_upstream("sparse+https://index.crates.io") == "sparse+https://index.crates.io/"
    run_cli(tmp_path / "data", "init", "--upstream", "sparse+https://index.crates.io/")
    config = RegistryConfig.load(tmp_path / "data" / "config.yaml")
    assert (config.upstream, config.upstream_freshness) == ("sparse+https://index.crates.io/", 300)
    refused = run_cli(tmp_path / "other", "init", "--upstream", "https://index.crates.io/", check=False)
    assert refused.code != 0 and "sparse index URL" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert not (tmp_path / "other" / "config.yaml").exists()
    run_cli(tmp_path / "quick", "init", "--upstream", "sparse+http://127.0.0.1:1/", "--upstream-freshness", "0")
    assert RegistryConfig.load(tmp_path / "quick" / "config.yaml").upstream_freshness == 0
    negative = run_cli(tmp_path / "neg", "init", "--upstream-freshness", "-5", check=False)
    assert negative.code != 0 and "--upstream-freshness" in negative.err
    (tmp_path / "data" / "config.yaml").write_text("upstream: http://x/\n")
    with pytest.raises(BadRequest, match="upstream"):
        RegistryConfig.load(tmp_path / "data" / "config.yaml")
    (tmp_path / "data" / "config.yaml").write_text("upstream_freshness: -1\n")
    with pytest.raises(BadRequest, match="upstream_freshness"):
        RegistryConfig.load(tmp_path / "data" / "config.yaml")


def test_index_is_cached_revalidated_and_updated(tmp_path: Path, upstream: StaticUpstream, clock: Clock) -> None:
    upstream.add("walkdir", "2.3.2", make_crate("walkdir", "2.3.2"))
    mirror = _mirror(tmp_path, upstream, clock)
    first = mirror.index_file("walkdir")
    assert [e["vers"] for e in _lines(first.data)] == ["2.3.2"]
    assert mirror.index_file("walkdir") == first
    assert upstream.requests["/index/wa/lk/walkdir"] == 1
    clock.now += 301
    assert mirror.index_file("walkdir").etag == first.etag
    assert upstream.conditional["/index/wa/lk/walkdir"] == 1
    upstream.add("walkdir", "2.4.0", make_crate("walkdir", "2.4.0"))
    clock.now += 100
    assert mirror.index_file("walkdir") == first
    clock.now += 201
    newer = mirror.index_file("walkdir")
    assert [e["vers"] for e in _lines(newer.data)] == ["2.3.2", "2.4.0"]
    assert newer.etag != first.etag
    again = mirror_of(registry_of(mirror), Upstream(upstream.index_url), clock=clock).index_file("walkdir")
    assert again == newer
    assert upstream.requests["/index/wa/lk/walkdir"] == 3


def test_stale_copy_is_served_while_upstream_is_down(tmp_path: Path, upstream: StaticUpstream, clock: Clock) -> None:
    upstream.add("walkdir", "2.3.2", make_crate("walkdir", "2.3.2"))
    mirror = _mirror(tmp_path, upstream, clock, retries=0)
    first = mirror.index_file("walkdir")
    upstream.stop()
    clock.now += 10_000
    assert mirror.index_file("walkdir") == first
    assert mirror.stats.stale_served == 1
    with pytest.raises(UpstreamError, match="could not be reached"):
        mirror.index_file("never-fetched")


def test_missing_names_are_remembered_briefly(tmp_path: Path, upstream: StaticUpstream, clock: Clock) -> None:
    mirror = _mirror(tmp_path, upstream, clock)
    assert mirror.index_file("nope") is None
    assert mirror.index_file("nope") is None
    assert upstream.requests["/index/4/nope"] == 0
    assert upstream.requests["/index/2/no"] == 0
    assert upstream.requests["/index/3/n/nop"] == 0
    assert upstream.requests["/index/no/pe/nope"] == 1
    upstream.add("nope", "1.0.0", make_crate("nope", "1.0.0"))
    clock.now += MISSING_TTL + 1
    assert [e["vers"] for e in _lines(mirror.index_file("nope").data)] == ["1.0.0"]


def test_garbage_index_is_refused_and_not_cached(tmp_path: Path, upstream: StaticUpstream, clock: Clock) -> None:
    path = upstream.root / "index" / "ju" / "nk" / "junk"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"<html>not an index</html>\n")
    mirror = _mirror(tmp_path, upstream, clock)
    with pytest.raises(UpstreamError, match="no valid entry"):
        mirror.index_file("junk")
    path.write_text(json.dumps({"name": "other", "vers": "1.0.0", "cksum": "0" * 64}) + "\n")
    with pytest.raises(UpstreamError, match="no valid entry"):
        mirror.index_file("junk")
    assert not mirror.layout.mirror_index_file("junk").exists()


def test_hostile_upstream_entries_are_dropped(tmp_path: Path, upstream: StaticUpstream, clock: Clock) -> None:
    good = {"name": "Junk", "vers": "1.0.0", "deps": [], "cksum": "a" * 64, "features": {}, "yanked": False}
    hostile = [
        {**good, "vers": "../../../x"},
        {**good, "vers": "1.0.1\r\n"},
        {**good, "vers": "1.0.2", "name": "junk"},
        {**good, "vers": "1.0.3", "cksum": "../x"},
        {**good, "vers": "1.0.4", "deps": [{"name": "../evil", "req": "1"}]},
        {
            **good,
            "vers": "1.0.5",
            "deps": [
                {
                    "name": "ok",
                    "req": "1\r\nX-Injected: 1",
                    "features": [],
                    "optional": False,
                    "default_features": True,
                    "kind": "normal",
                }
            ],
        },
        {**good, "vers": "1.0.6", "features": {"x": "not a list"}},
        {**good, "vers": "1.0.7", "yanked": "no"},
    ]
    lines = [json.dumps(good), *map(json.dumps, hostile), json.dumps({**good, "vers": "2.0.0"}), "[" * 5000]
    path = upstream.root / "index" / "ju" / "nk" / "junk"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    mirror = _mirror(tmp_path, upstream, clock)
    served = mirror.index_file("junk")
    assert [(e["name"], e["vers"]) for e in _lines(served.data)] == [("Junk", "1.0.0"), ("Junk", "2.0.0")]
    assert mirror.layout.mirror_index_file("junk").read_bytes().endswith(served.data)


def test_oversized_index_is_refused(tmp_path: Path, upstream: StaticUpstream, clock: Clock) -> None:
    upstream.add("big", "1.0.0", make_crate("big", "1.0.0"))
    mirror = _mirror(tmp_path, upstream, clock, max_index_bytes=50)
    with pytest.raises(UpstreamError, match="larger than 50 bytes"):
        mirror.index_file("big")


def test_crate_is_checked_stored_and_then_served_offline(
    tmp_path: Path, upstream: StaticUpstream, clock: Clock
) -> None:
    crate = make_crate("walkdir", "2.3.2")
    upstream.add("walkdir", "2.3.2", crate)
    mirror = _mirror(tmp_path, upstream, clock, retries=0)
    path = mirror.crate_file("walkdir", "2.3.2")
    assert path.read_bytes() == crate
    assert upstream.requests["/crates/walkdir/2.3.2/download"] == 1
    upstream.stop()
    clock.now += 10_000
    offline = mirror_of(registry_of(mirror), Upstream(upstream.index_url, retries=0), clock=clock)
    assert offline.crate_file("walkdir", "2.3.2").read_bytes() == crate
    with pytest.raises(NotFound):
        offline.crate_file("walkdir", "9.9.9")
    assert run_cli(mirror.layout.root, "verify").code == 0
    path.write_bytes(crate + b"rot")
    mirror.layout.mirror_crate_file("walkdir", "9.9.9").write_bytes(crate)
    evicted = mirror.layout.mirror_crate_file("gone", "1.0.0")
    evicted.parent.mkdir()
    evicted.write_bytes(crate)
    report = run_cli(mirror.layout.root, "verify", check=False)
    assert report.code == 1
    assert report.out.splitlines() == [
        "mirror/crates/walkdir/walkdir-2.3.2.crate: its checksum does not match the cached upstream index entry",
        "mirror/crates/walkdir/walkdir-9.9.9.crate: no cached upstream index entry refers to it",
    ]


def test_corrupted_crate_is_refused_and_not_stored(tmp_path: Path, upstream: StaticUpstream, clock: Clock) -> None:
    crate = make_crate("walkdir", "2.3.2")
    upstream.add("walkdir", "2.3.2", crate, served=crate[:-1] + bytes([crate[-1] ^ 1]))
    mirror = _mirror(tmp_path, upstream, clock)
    with pytest.raises(UpstreamError, match="does not match the checksum"):
        mirror.crate_file("walkdir", "2.3.2")
    crates = mirror.layout.mirror / "crates"
    assert [p for p in crates.rglob("*") if p.is_file()] == []


def test_one_fetch_for_concurrent_requests(tmp_path: Path, upstream: StaticUpstream, clock: Clock) -> None:
    crate = make_crate("walkdir", "2.3.2")
    upstream.add("walkdir", "2.3.2", crate)
    mirror = _mirror(tmp_path, upstream, clock)
    mirror.index_file("walkdir")
    upstream.hold.clear()
    results: list[bytes] = []

    def fetch() -> None:
        results.append(mirror.crate_file("walkdir", "2.3.2").read_bytes())

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    threads[0].start()
    assert upstream.held.wait(30)
    fd = os.open(mirror.layout.mirror_lock("walkdir", "2.3.2"), os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    for thread in threads[1:]:
        thread.start()
    upstream.hold.set()
    for thread in threads:
        thread.join(60)
    assert results == [crate] * 8
    assert upstream.requests["/crates/walkdir/2.3.2/download"] == 1


def test_a_local_crate_shadows_the_upstream_in_every_spelling(
    tmp_path: Path, upstream: StaticUpstream, clock: Clock
) -> None:
    upstream.add("foo-bar", "9.0.0", make_crate("foo-bar", "9.0.0"))
    upstream.add("Foo_Bar", "9.0.0", make_crate("Foo_Bar", "9.0.0"))
    mirror = _mirror(tmp_path, upstream, clock)
    allow_name(mirror.layout, "foo_bar")
    registry_of(mirror).publish(metadata("foo_bar", "1.0.0"), make_crate("foo_bar", "1.0.0"))
    upstream.requests.clear()
    for spelling in ("foo-bar", "Foo_Bar", "FOO-BAR", "foo_bar"):
        assert mirror.index_file(spelling) is None
        with pytest.raises(NotFound):
            mirror.crate_file(spelling, "9.0.0")
    assert sum(upstream.requests.values()) == 0


def test_hanging_upstream_times_out(tmp_path: Path, upstream: StaticUpstream, clock: Clock) -> None:
    crate = make_crate("walkdir", "2.3.2")
    upstream.add("walkdir", "2.3.2", crate)
    mirror = _mirror(tmp_path, upstream, clock, read_timeout=0.5, retries=0)
    mirror.index_file("walkdir")
    upstream.hold.clear()
    with pytest.raises(UpstreamError, match="could not be reached|failed while sending"):
        mirror.crate_file("walkdir", "2.3.2")
    upstream.hold.set()
    assert not mirror.layout.mirror_crate_file("walkdir", "2.3.2").exists()


def test_a_new_crate_named_like_an_upstream_one_needs_allowing(
    tmp_path: Path, upstream: StaticUpstream, clock: Clock
) -> None:
    upstream.add("foo-bar", "9.0.0", make_crate("foo-bar", "9.0.0"))
    mirror = _mirror(tmp_path, upstream, clock)
    registry = registry_of(mirror)
    for spelling in ("foo-bar", "Foo-Bar", "foo_bar"):
        with pytest.raises(Forbidden, match=f"exists on the upstream registry .*palletizer allow-name {spelling}"):
            registry.publish(metadata(spelling, "1.0.0"), make_crate(spelling, "1.0.0"))
    assert registry.canonical_name("foo-bar") is None
    assert [p for p in registry.layout.crates.rglob("*") if p.is_file()] == []
    registry.publish(metadata("unrelated", "1.0.0"), make_crate("unrelated", "1.0.0"))
    allowed = run_cli(registry.layout.root, "allow-name", "FOO_BAR")
    assert "may now be published" in allowed.err
    assert RegistryConfig.load(registry.layout.config).allowed_names == ["FOO_BAR"]
    assert registry.publish(metadata("foo-bar", "1.0.0"), make_crate("foo-bar", "1.0.0"))["vers"] == "1.0.0"
    assert "already allowed" in run_cli(registry.layout.root, "allow-name", "foo-bar").err


def test_a_new_crate_is_refused_while_the_upstream_cannot_say(
    tmp_path: Path, upstream: StaticUpstream, clock: Clock
) -> None:
    mirror = _mirror(tmp_path, upstream, clock)
    registry_of(mirror).publish(metadata("mine", "1.0.0"), make_crate("mine", "1.0.0"))
    upstream.stop()
    with pytest.raises(UpstreamError, match="could not be checked"):
        registry_of(mirror).publish(metadata("other", "1.0.0"), make_crate("other", "1.0.0"))
    assert registry_of(mirror).publish(metadata("mine", "1.1.0"), make_crate("mine", "1.1.0"))["vers"] == "1.1.0"


def test_mirror_fetch_fills_the_cache_from_lockfiles(tmp_path: Path, upstream: StaticUpstream, clock: Clock) -> None:
    leaf, mid = make_crate("leaf", "1.0.0"), make_crate("mid", "2.0.0")
    upstream.add("leaf", "1.0.0", leaf)
    upstream.add("mid", "2.0.0", mid)
    mirror = _mirror(tmp_path, upstream, clock)
    allow_name(mirror.layout, "mine")
    registry_of(mirror).publish(metadata("mine", "1.0.0"), make_crate("mine", "1.0.0"))
    crates_io = 'source = "registry+https://github.com/rust-lang/crates.io-index"'
    leaf_sum = hashlib.sha256(leaf).hexdigest()
    lockfile = tmp_path / "Cargo.lock"
    lockfile.write_text(
        "version = 4\n\n"
        f'[[package]]\nname = "leaf"\nversion = "1.0.0"\n{crates_io}\nchecksum = "{leaf_sum}"\n\n'
        f'[[package]]\nname = "mid"\nversion = "2.0.0"\n{crates_io}\n\n'
        f'[[package]]\nname = "mine"\nversion = "1.0.0"\n{crates_io}\n\n'
        f'[[package]]\nname = "gone"\nversion = "1.0.0"\n{crates_io}\n\n'
        '[[package]]\nname = "app"\nversion = "0.1.0"\n'
        '[[package]]\nname = "private"\nversion = "0.1.0"\nsource = "sparse+http://elsewhere/index/"\n'
    )
    first = palletizer(mirror.layout.root, "mirror", "fetch", str(lockfile), check=False)
    assert first.returncode == 1
    assert first.stdout.splitlines() == [
        "fetched leaf 1.0.0",
        "fetched mid 2.0.0",
        "skipped mine 1.0.0: a crate of that name is published here",
        "failed gone 1.0.0: no file for crate `gone` version `1.0.0`",
    ]
    assert "mirror fetch: 2 fetched, 0 cached, 1 skipped, 1 failed" in first.stderr
    upstream.stop()
    again = palletizer(mirror.layout.root, "mirror", "fetch", str(lockfile), check=False)
    assert again.stdout.splitlines()[:2] == ["cached leaf 1.0.0", "cached mid 2.0.0"]
    status = run_cli(mirror.layout.root, "mirror", "status").out
    assert "index files: 2 (" in status and "crate files: " in status
    assert f"crate files: 2 ({len(leaf) + len(mid)} bytes)" in status
    refused = palletizer(mirror.layout.root, "mirror", "fetch", str(tmp_path / "nope.lock"), check=False)
    assert refused.returncode != 0 and "not a readable Cargo.lock" in refused.stderr


def test_a_revalidation_that_changes_nothing_only_touches_the_file(
    tmp_path: Path, upstream: StaticUpstream, clock: Clock
) -> None:
    upstream.add("walkdir", "2.3.2", make_crate("walkdir", "2.3.2"))
    mirror = _mirror(tmp_path, upstream, clock)
    first = mirror.index_file("walkdir")
    cached = mirror.layout.mirror_index_file("walkdir")
    before = cached.stat()
    assert before.st_mtime == clock.now
    clock.now += 301
    assert mirror.index_file("walkdir") == first
    after = cached.stat()
    assert upstream.conditional["/index/wa/lk/walkdir"] == 1
    assert (after.st_ino, after.st_size, after.st_mtime) == (before.st_ino, before.st_size, clock.now)
    clock.now += 299
    assert mirror.index_file("walkdir") == first
    assert upstream.requests["/index/wa/lk/walkdir"] == 2


def test_a_torn_index_file_is_fetched_again_never_served(
    tmp_path: Path, upstream: StaticUpstream, clock: Clock
) -> None:
    upstream.add("walkdir", "2.3.2", make_crate("walkdir", "2.3.2"))
    upstream.add("walkdir", "2.4.0", make_crate("walkdir", "2.4.0"))
    mirror = _mirror(tmp_path, upstream, clock, retries=0)
    whole = mirror.index_file("walkdir")
    cached = mirror.layout.mirror_index_file("walkdir")
    raw = cached.read_bytes()
    for torn in (raw[: len(raw) // 2], raw[: raw.index(b"\n") + 10], b"", raw.replace(b"2.4.0", b"2.4.1")):
        cached.write_bytes(torn)
        assert mirror_of(registry_of(mirror), Upstream(upstream.index_url), clock=clock).index_file("walkdir") == whole
        assert cached.read_bytes() == raw
    requests_before = upstream.requests["/index/wa/lk/walkdir"]
    upstream.stop()
    cached.write_bytes(raw[:-5])
    with pytest.raises(UpstreamError, match="could not be reached"):
        mirror_of(registry_of(mirror), Upstream(upstream.index_url, retries=0), clock=clock).index_file("walkdir")
    assert requests_before == 5


def test_a_torn_crate_file_is_fetched_again_never_served(
    tmp_path: Path, upstream: StaticUpstream, clock: Clock
) -> None:
    crate = make_crate("walkdir", "2.3.2")
    upstream.add("walkdir", "2.3.2", crate)
    mirror = _mirror(tmp_path, upstream, clock, retries=0)
    path = mirror.crate_file("walkdir", "2.3.2")
    for torn in (b"", crate[:100], crate[:-1] + bytes([crate[-1] ^ 1])):
        path.write_bytes(torn)
        restarted = mirror_of(registry_of(mirror), Upstream(upstream.index_url, retries=0), clock=clock)
        assert restarted.crate_file("walkdir", "2.3.2").read_bytes() == crate
    assert upstream.requests["/crates/walkdir/2.3.2/download"] == 4
    upstream.stop()
    path.write_bytes(crate[:100])
    offline = mirror_of(registry_of(mirror), Upstream(upstream.index_url, retries=0), clock=clock)
    with pytest.raises(UpstreamError, match="could not be reached"):
        offline.crate_file("walkdir", "2.3.2")
    assert not path.exists()


def test_crate_locks_are_a_fixed_set(tmp_path: Path, upstream: StaticUpstream, clock: Clock) -> None:
    for number in range(150):
        upstream.add(f"crate{number}", "1.0.0", make_crate(f"crate{number}", "1.0.0"))
    mirror = _mirror(tmp_path, upstream, clock)
    for number in range(150):
        mirror.crate_file(f"crate{number}", "1.0.0")
    locks = sorted(p.name for p in (mirror.layout.mirror / "locks").iterdir())
    assert 40 <= len(locks) <= MIRROR_LOCK_STRIPES
    assert all(len(name) == len("00.lock") for name in locks)


def test_the_environment_s_proxy_is_used_for_the_upstream(
    tmp_path: Path, upstream: StaticUpstream, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream.add("walkdir", "2.3.2", make_crate("walkdir", "2.3.2"))
    for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    proxied = _mirror(tmp_path, upstream, clock, retries=0)
    with pytest.raises(UpstreamError, match="could not be reached"):
        proxied.index_file("walkdir")
    assert upstream.requests["/index/wa/lk/walkdir"] == 0
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    direct = mirror_of(registry_of(proxied), Upstream(upstream.index_url, retries=0), clock=clock)
    assert [e["vers"] for e in _lines(direct.index_file("walkdir").data)] == ["2.3.2"]


def test_mirror_fetch_draws_a_progress_bar_on_a_terminal(
    tmp_path: Path, upstream: StaticUpstream, clock: Clock
) -> None:
    upstream.add("leaf", "1.0.0", make_crate("leaf", "1.0.0"))
    upstream.add("mid", "2.0.0", make_crate("mid", "2.0.0"))
    mirror = _mirror(tmp_path, upstream, clock)
    crates_io = 'source = "registry+https://github.com/rust-lang/crates.io-index"'
    lockfile = tmp_path / "Cargo.lock"
    lockfile.write_text(
        "version = 4\n\n"
        + "".join(
            f'[[package]]\nname = "{name}"\nversion = "{version}"\n{crates_io}\n\n'
            for name, version in (("leaf", "1.0.0"), ("mid", "2.0.0"))
        )
    )
    status, stdout, terminal = run_on_terminal(
        [str(BIN / "palletizer"), "--data", str(mirror.layout.root), "mirror", "fetch", str(lockfile)]
    )
    assert status == 0
    assert stdout.decode().splitlines() == ["fetched leaf 1.0.0", "fetched mid 2.0.0"]
    assert b"\r\x1b[Kfetching [" in terminal and b"] 2/2" in terminal, terminal
    assert b"mirror fetch: 2 fetched, 0 cached, 0 skipped, 0 failed" in terminal


def test_in_the_background_an_index_file_is_served_before_it_reaches_the_disk(
    tmp_path: Path, upstream: StaticUpstream, clock: Clock
) -> None:
    upstream.add("walkdir", "2.3.2", make_crate("walkdir", "2.3.2"))
    registry = Registry.create(tmp_path / "data", RegistryConfig(upstream=upstream.index_url))
    mirror = mirror_of(registry, Upstream(upstream.index_url), clock=clock, background=True)
    disk = threading.Event()
    WRITER.submit(lambda: disk.wait(30))
    try:
        first = mirror.index_file("walkdir")
        assert not mirror.layout.mirror_index_file("walkdir").exists()
        other = mirror_of(registry, Upstream(upstream.index_url), clock=clock, background=True)
        assert other.index_file("walkdir") == first
        assert other.crate_file("walkdir", "2.3.2").read_bytes() == make_crate("walkdir", "2.3.2")
        assert upstream.requests["/index/wa/lk/walkdir"] == 1
    finally:
        disk.set()
    WRITER.flush()
    assert mirror_of(registry, Upstream(upstream.index_url), clock=clock).index_file("walkdir") == first
    assert upstream.requests["/index/wa/lk/walkdir"] == 1
    assert not PENDING
