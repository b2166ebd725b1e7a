"""Hostile .crate archives through `Registry.publish` and `Registry.add` (the CLI's `add`).

The registry never extracts an archive, only streams it to find Cargo.toml; these tests hold it to
that: absolute and `..` paths, links out of the archive and writes through them change nothing
outside the data directory, and nothing inside it but the expected files. Bombs are refused, or
read, within bounded memory.
"""

import io
import tarfile
import tracemalloc
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from palletizer_lib.errors import PalletizerError
from palletizer_lib.registry import Registry
from tests.cratekit import gzip_tar, metadata
from tests.files import tree
from tests.unit.archives import gzip_bomb, manifest, tar_gz

GOOD = {"evil-1.0.0/Cargo.toml": manifest("evil", "1.0.0"), "evil-1.0.0/src/lib.rs": b""}
ABSOLUTE = f"/tmp/palletizer-evil-{uuid.uuid4().hex}"
ESCAPES = {
    "absolute path": dict(files={ABSOLUTE: b"evil"}),
    "dot-dot paths": dict(files={"../outside/evil": b"evil", "evil-1.0.0/../../outside/evil": b"evil",
                                 "../../../../../../../../tmp/palletizer-evil": b"evil"}),
    "symlinks out": dict(symlinks={"evil-1.0.0/up": "../../outside/sentinel", "evil-1.0.0/abs": "/etc/passwd"}),
    "hardlinks out": dict(hardlinks={"evil-1.0.0/up": "../outside/sentinel", "evil-1.0.0/abs": "/etc/passwd"}),
    "write through a symlink": dict(symlinks={"evil-1.0.0/dir": "../../outside"}),
}
LINKED_MANIFESTS = {
    "Cargo.toml a symlink to /etc/passwd": tar_gz({}, symlinks={"evil-1.0.0/Cargo.toml": "/etc/passwd"}),
    "Cargo.toml a symlink out": tar_gz({}, symlinks={"evil-1.0.0/Cargo.toml": "../../outside/Cargo.toml"}),
    "Cargo.toml a hardlink": tar_gz({"other.toml": manifest("evil", "1.0.0")},
                                    hardlinks={"evil-1.0.0/Cargo.toml": "other.toml"}),
    "Cargo.toml a directory": tar_gz({}, directories=("evil-1.0.0/Cargo.toml",)),
    "Cargo.toml again, as a link": tar_gz(GOOD, symlinks={"evil-1.0.0/Cargo.toml": "/etc/passwd"}),
}
MEMORY_BOUND = 4 * 1024 * 1024


def escaping_crate(case: str) -> bytes:
    """A good crate with the hostile members of `case` added (after them, a write through a link)."""
    spec = ESCAPES[case]
    files = {**GOOD, **spec.get("files", {})}
    if case == "write through a symlink":
        raw = io.BytesIO()
        with gzip_tar(raw) as archive:
            for path, data in GOOD.items():
                add_file(archive, path, data)
            link = tarfile.TarInfo("evil-1.0.0/dir")
            link.type, link.linkname = tarfile.SYMTYPE, "../../outside"
            archive.addfile(link)
            add_file(archive, "evil-1.0.0/dir/evil", b"written through the link")
        return raw.getvalue()
    return tar_gz(files, symlinks=spec.get("symlinks"), hardlinks=spec.get("hardlinks"))


def add_file(archive: tarfile.TarFile, path: str, data: bytes) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


@pytest.fixture
def world(tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`tmp_path` with the registry (`data/`), a file beside it (`outside/sentinel`) and the working
    directory (`cwd/`), where a careless extraction would write."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "sentinel").write_bytes(b"sentinel")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path


def publish(registry: Registry, crate: bytes) -> dict:
    return registry.publish(metadata("evil", "1.0.0"), crate)


def add(registry: Registry, crate: bytes) -> dict:
    return registry.add(crate)


@pytest.mark.parametrize("store", [publish, add])
@pytest.mark.parametrize("case", list(ESCAPES))
def test_members_escaping_the_archive_write_nothing_outside(world: Path, registry: Registry, case: str,
                                                           store: Callable[[Registry, bytes], dict]) -> None:
    """The crate is stored as it came (cargo itself refuses such members when it unpacks), and
    nothing appears but its file and the index's."""
    crate = escaping_crate(case)
    before = tree(world)
    entry = store(registry, crate)
    after = tree(world)
    assert (entry["name"], entry["vers"]) == ("evil", "1.0.0")
    assert {k: v for k, v in after.items() if not k.startswith("data/")} == \
        {k: v for k, v in before.items() if not k.startswith("data/")}
    new = sorted(set(after) - set(before))
    assert [k for k in new if not k.startswith(("data/index/", "data/index.git/", "data/names/"))] == \
        ["data/crates/evil", "data/crates/evil/evil-1.0.0.crate"]
    assert after["data/crates/evil/evil-1.0.0.crate"] == crate
    assert not [k for k, v in after.items() if isinstance(v, str)], "no link anywhere"
    assert not Path(ABSOLUTE).exists() and not Path("/tmp/palletizer-evil").exists()
    assert registry.verify() == []


@pytest.mark.parametrize("store", [publish, add])
@pytest.mark.parametrize("crate", list(LINKED_MANIFESTS.values()), ids=list(LINKED_MANIFESTS))
def test_a_cargo_toml_that_is_no_regular_file_is_refused(world: Path, registry: Registry, crate: bytes,
                                                         store: Callable[[Registry, bytes], dict]) -> None:
    """Reading a link's target would leak a file of the server (say /etc/passwd) into the index."""
    before = tree(world)
    with pytest.raises(PalletizerError) as refused:
        store(registry, crate)
    assert refused.value.status == 400
    assert tree(world) == before


def traced_peak(call: Callable[[], object]) -> tuple[int, PalletizerError | None]:
    """The most memory Python allocated during `call()`, and the PalletizerError it raised, if any."""
    tracemalloc.start()
    try:
        call()
    except PalletizerError as error:
        return tracemalloc.get_traced_memory()[1], error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, None


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """260 MB of zeros in a 260 KB crate: more than the default 200 MB unpacked limit (20 x 10 MB)."""
    return gzip_bomb("evil", "1.0.0", 260 * 1024 * 1024)


@pytest.mark.parametrize("store", [publish, add])
def test_gzip_bomb_is_refused_in_bounded_memory(registry: Registry, bomb: bytes,
                                                store: Callable[[Registry, bytes], dict]) -> None:
    """Decompression is streamed and stops at the unpacked limit: memory stays at a few chunks."""
    assert registry._unpacked_limit() == 200 * 1024 * 1024
    peak, refused = traced_peak(lambda: store(registry, bomb))
    assert peak < MEMORY_BOUND, f"{peak} bytes"
    assert refused is not None and refused.status == 400 and "unpacks to more than the allowed size" in refused.detail
    assert list(registry.layout.crates.iterdir()) == [] and registry.verify() == []


def many_members_crate(count: int) -> bytes:
    """A valid crate of `count` empty files before its Cargo.toml (about 10 bytes each, compressed)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for i in range(count):
            archive.addfile(tarfile.TarInfo(f"evil-1.0.0/f{i}"))
        add_file(archive, "evil-1.0.0/Cargo.toml", manifest("evil", "1.0.0"))
    return zlib.compress(raw.getvalue(), 9, wbits=31)


@pytest.mark.parametrize("store", [publish, add])
def test_an_archive_of_many_tiny_members_is_read_in_bounded_memory(registry: Registry,
                                                                   store: Callable[[Registry, bytes], dict]) -> None:
    """tarfile keeps every member it has read unless told otherwise: 15,000 members cost ~7 MB, and a
    10 MB crate of them would cost gigabytes."""
    crate = many_members_crate(15_000)
    peak, refused = traced_peak(lambda: store(registry, crate))
    assert peak < MEMORY_BOUND and refused is None, (peak, refused)
    assert registry.crate_path("evil", "1.0.0").read_bytes() == crate and registry.verify() == []
