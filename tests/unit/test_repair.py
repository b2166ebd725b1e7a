"""`verify --repair` and startup recovery on data directories left as a crash would leave them."""

import hashlib
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

from palletizer_lib.core.registry import Registry
from palletizer_lib.index.cache import IndexCache
from tests.support.cli import run_cli
from tests.support.publishing import publish


def test_repair_sets_orphans_aside_and_never_touches_referenced_crates(registry: Registry) -> None:
    kept = publish(registry, "kept")["cksum"]
    orphan = registry.layout.crate_file("ghost", "0.1.0")
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"never published")
    assert any("no index entry refers to it" in p for p in registry.verify())

    changes = registry.repair()
    assert changes == ["moved crates/ghost/ghost-0.1.0.crate, which no index entry names, to orphans/ghost-0.1.0.crate"]
    assert (registry.layout.orphans / "ghost-0.1.0.crate").read_bytes() == b"never published"
    assert hashlib.sha256(registry.layout.crate_file("kept", "1.0.0").read_bytes()).hexdigest() == kept
    assert registry.verify() == []
    assert registry.repair() == [], "a second repair finds nothing"


def test_repair_rewrites_a_half_written_index_file_and_summaries(registry: Registry) -> None:
    publish(registry, "half", "1.0.0")
    served = registry.layout.index_file("half")
    good = served.read_bytes()
    served.write_bytes(good[: len(good) // 2])
    registry.layout.summary_file("half").unlink()
    registry.layout.summary_file("nothere").write_text('{"name": "nothere", "max_version": "1.0.0"}')
    problems = registry.verify()
    assert any("index/3/h/half" in p or "half" in p for p in problems)

    changes = registry.repair()
    assert f"rewrote index/{served.relative_to(registry.layout.index)} from the git index" in changes
    assert "removed names/nothere.json, the summary of a crate that does not exist" in changes
    assert served.read_bytes() == good
    assert registry.canonical_name("half") == "half"
    assert registry.verify() == []


def test_repair_removes_stale_locks_and_leftover_temporary_files(registry: Registry) -> None:
    publish(registry, "locked", "1.0.0")
    ref_lock = registry.layout.git / "refs" / "heads" / "main.lock"
    ref_lock.write_bytes(b"0123")
    object_dir = next(p for p in (registry.layout.git / "objects").iterdir() if len(p.name) == 2)
    object_lock = object_dir / "deadbeef.lock"
    object_lock.write_bytes(b"x")
    leftover = registry.layout.index / ".tmp-abc123"
    leftover.write_bytes(b"half")

    changes = registry.repair()
    assert "removed the stale git lock index.git/refs/heads/main.lock" in changes
    assert f"removed the stale git lock {object_lock.relative_to(registry.layout.root)}" in changes
    assert "removed the leftover temporary file index/.tmp-abc123" in changes
    assert not ref_lock.exists() and not object_lock.exists() and not leftover.exists()
    publish(registry, "locked", "1.0.1")
    assert [e["vers"] for e in registry.entries("locked")] == ["1.0.0", "1.0.1"]


def test_recover_undoes_a_publish_that_never_committed(registry: Registry) -> None:
    crate_path = registry.layout.crate_file("late", "1.0.0")
    crate_path.parent.mkdir(parents=True)
    crate_path.write_bytes(b"written before the crash")
    (crate_path.parent / ".tmp-partial").write_bytes(b"par")
    registry.layout.pending.write_text("crates/late/late-1.0.0.crate")
    assert "`pending` names a crate file whose publish was interrupted" in registry.verify()

    assert registry.recover() == ["removed crates/late/late-1.0.0.crate, written by a publish that never committed"]
    assert not crate_path.exists() and not registry.layout.pending.exists()
    assert not list(crate_path.parent.glob(".tmp-*"))
    assert registry.verify() == []


def test_recover_keeps_a_crate_whose_publish_committed(registry: Registry) -> None:
    cksum = publish(registry, "done")["cksum"]
    registry.layout.pending.write_text("crates/done/done-1.0.0.crate")
    assert registry.recover() == []
    assert hashlib.sha256(registry.layout.crate_file("done", "1.0.0").read_bytes()).hexdigest() == cksum
    assert registry.verify() == []


def test_verify_repair_on_the_command_line(registry: Registry) -> None:
    data: Path = registry.layout.root
    publish(registry, "cli", "1.0.0")
    (registry.layout.crates / "cli" / "cli-9.9.9.crate").write_bytes(b"stray")
    broken = run_cli(data, "verify", check=False)
    assert broken.code == 1 and "crates/cli/cli-9.9.9.crate: no index entry refers to it" in broken.out
    repaired = run_cli(data, "verify", "--repair")
    assert "repaired: moved crates/cli/cli-9.9.9.crate" in repaired.out
    assert "the registry is consistent" in repaired.err


def _die_holding_the_lock(registry: Registry) -> None:
    """A writer process killed (SIGKILL) while it holds the registry lock."""
    code = (
        "import os, signal; from pathlib import Path; from palletizer_lib.disk.files import exclusive_lock\n"
        f"with exclusive_lock(Path({str(registry.layout.lock)!r})):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    died = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert died.returncode == -signal.SIGKILL


def _leave_temporary_files(registry: Registry) -> list[Path]:
    leftovers = [
        registry.layout.index / "3" / "t" / ".tmp-index",
        registry.layout.names / ".tmp-summary",
        registry.layout.root / ".tmp-config",
    ]
    for leftover in leftovers:
        leftover.parent.mkdir(parents=True, exist_ok=True)
        leftover.write_bytes(b"half written")
    return leftovers


def test_recover_after_a_clean_stop_walks_nothing(registry: Registry) -> None:
    """Temporary files are left only by a writer that died holding the lock: without one, start-up recovery
    does a few file checks, whatever the size of the registry (`repair` still finds them)."""
    publish(registry, "tidy", "1.0.0")
    leftovers = _leave_temporary_files(registry)
    assert registry.recover() == []
    assert all(p.exists() for p in leftovers)
    assert len(registry.repair()) == len(leftovers)


def test_recover_at_start_removes_leftover_temporary_files_everywhere(registry: Registry) -> None:
    publish(registry, "tidy", "1.0.0")
    leftovers = _leave_temporary_files(registry)
    _die_holding_the_lock(registry)
    changes = registry.recover()
    assert sorted(changes) == sorted(
        f"removed the leftover temporary file {p.relative_to(registry.layout.root)}" for p in leftovers
    )
    assert not any(p.exists() for p in leftovers)
    assert registry.verify() == []


def test_a_repair_is_seen_by_a_cache_of_the_served_index(registry: Registry) -> None:
    publish(registry, "cached", "1.0.0")
    cache = IndexCache(registry.stores.served)
    served = registry.layout.index_file("cached")
    good = served.read_bytes()
    served.write_bytes(b"garbage\n")
    load = partial(registry.stores.served.read, "ca/ch/cached")
    assert cache.get("ca/ch/cached", load).data == b"garbage\n"
    registry.repair()
    assert cache.get("ca/ch/cached", load).data == good
