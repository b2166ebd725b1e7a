"""Reading ahead: which index files the mirror guesses cargo asks for next, and that it fetches them once,
in the background, never for a crate published here."""

import threading
from pathlib import Path

from palletizer_lib.core.registry import Registry
from palletizer_lib.mirror.policy import allow_name
from palletizer_lib.mirror.read_ahead import likely_next
from palletizer_lib.mirror.state import READ_AHEAD, WRITER, MirrorStats
from palletizer_lib.mirror.upstream import Upstream
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cratekit import make_crate, metadata
from tests.support.mirrors import mirror_of
from tests.support.static_upstream import StaticUpstream, upstream_dep


def _entry(vers: str, *deps: dict, yanked: bool = False) -> dict:
    return {"name": "top", "vers": vers, "deps": list(deps), "cksum": "0" * 64, "yanked": yanked}


def _dep(name: str, **fields: object) -> dict:
    return {**upstream_dep(name, "1"), **fields}


def test_likely_next_takes_the_newest_release_of_the_newest_lines() -> None:
    entries = [
        _entry("0.1.0", _dep("ancient")),
        _entry("0.8.0", _dep("old")),
        _entry("0.8.5", _dep("eight"), _dep("devonly", kind="dev"), _dep("maybe", optional=True)),
        _entry("0.9.0", _dep("nine"), _dep("alias", package="real-name"), _dep("other", registry="https://x/")),
        _entry("1.0.0", _dep("one"), _dep("built", kind="build"), _dep("nine")),
        _entry("1.1.0", _dep("gone"), yanked=True),
        _entry("2.0.0-rc.1", _dep("pre")),
    ]
    assert likely_next(entries) == ["one", "built", "nine", "real-name", "eight"]
    assert likely_next([]) == []
    assert likely_next([_entry("x.y"), _entry("1.0.0", {"name": "bad name", "req": "1"}, "junk")]) == []


def test_dependencies_are_fetched_ahead_once_and_never_for_local_crates(tmp_path: Path) -> None:
    upstream = StaticUpstream(tmp_path / "upstream")
    try:
        upstream.add("leaf", "1.0.0", make_crate("leaf", "1.0.0"))
        upstream.add("mine", "1.0.0", make_crate("mine", "1.0.0"))
        upstream.add("mid", "1.0.0", make_crate("mid", "1.0.0"), [upstream_dep("leaf", "^1")])
        upstream.add(
            "top",
            "1.0.0",
            make_crate("top", "1.0.0"),
            [upstream_dep("mid", "^1"), upstream_dep("mine", "^1"), upstream_dep("absent", "^1")],
        )
        registry = Registry.create(tmp_path / "data", RegistryConfig(upstream=upstream.index_url))
        allow_name(registry.layout, "mine")
        registry.publish(metadata("mine", "1.0.0"), make_crate("mine", "1.0.0"))
        stats = MirrorStats()
        mirror = mirror_of(registry, Upstream(upstream.index_url), stats=stats, background=True)
        assert mirror.index_file("top") is not None
        assert READ_AHEAD.wait(30)
        WRITER.flush()
        workers = [t for t in threading.enumerate() if t.name.startswith("palletizer-read-ahead")]
        assert workers and all(t.daemon for t in workers), "a stopping server must not wait for guesses"
        assert upstream.requests["/index/mi/d/mid"] == 0
        assert upstream.requests["/index/3/m/mid"] == 1
        assert upstream.requests["/index/le/af/leaf"] == 1
        assert upstream.requests["/index/ab/se/absent"] == 1
        assert upstream.requests["/index/mi/ne/mine"] == 0
        assert stats.read_ahead == 3
        assert mirror.index_file("mid") is not None and mirror.index_file("leaf") is not None
        assert mirror.index_file("absent") is None
        assert (upstream.requests["/index/3/m/mid"], upstream.requests["/index/le/af/leaf"]) == (1, 1)
        assert stats.read_ahead == 3
        without = mirror_of(registry, Upstream(upstream.index_url), stats=MirrorStats())
        upstream.add("other", "1.0.0", make_crate("other", "1.0.0"), [upstream_dep("unseen", "^1")])
        assert without.index_file("other") is not None
        assert READ_AHEAD.wait(30)
        assert upstream.requests["/index/un/se/unseen"] == 0
    finally:
        upstream.stop()
