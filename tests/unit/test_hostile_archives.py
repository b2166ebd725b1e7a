"""Hostile .crate archives through `Registry.publish`, `Registry.add` (the CLI's `add`) and `import`.

The registry never extracts an archive, only streams it to find Cargo.toml, and it refuses, naming the
member, whatever `cargo package` never makes and an unpacker could be led astray by: links, devices and
FIFOs, absolute paths, `..`, `.` or empty components, backslashes, members outside `NAME-VERSION/`, the
same path twice. Refused, such a crate changes nothing anywhere. Bombs are refused, or read, within
bounded memory.
"""

import io
import tarfile
import tracemalloc
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from palletizer_lib.admin.importer import REFUSED, import_directory
from palletizer_lib.core.actor import LOCAL, Actor
from palletizer_lib.core.composition import compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import BadRequest, PalletizerError
from tests.support import publishing
from tests.support.archives import gzip_bomb, manifest, special_member, tar_gz
from tests.support.cratekit import gzip_tar
from tests.support.files import tree

GOOD = {"evil-1.0.0/Cargo.toml": manifest("evil", "1.0.0"), "evil-1.0.0/src/lib.rs": b""}
ABSOLUTE = f"/tmp/palletizer-evil-{uuid.uuid4().hex}"
ONLY_FILES = "(only regular files and directories are accepted)"
# case -> (the archive's members beyond GOOD, the start of the message naming the member)
HOSTILE = {
    "absolute path": (dict(files={ABSOLUTE: b"evil"}), f"a member with an absolute path `{ABSOLUTE}`"),
    "dot-dot path": (
        dict(files={"evil-1.0.0/../../outside/evil": b"evil"}),
        "a member `evil-1.0.0/../../outside/evil` whose path holds `..`",
    ),
    "dot-dot first": (dict(files={"../outside/evil": b"evil"}), "a member `../outside/evil` whose path holds `..`"),
    "symlink out": (
        dict(symlinks={"evil-1.0.0/up": "../../outside/sentinel"}),
        f"a symlink `evil-1.0.0/up` {ONLY_FILES}",
    ),
    "symlink to /etc/passwd": (dict(symlinks={"evil-1.0.0/abs": "/etc/passwd"}), "a symlink `evil-1.0.0/abs`"),
    "symlink inside": (dict(symlinks={"evil-1.0.0/lib.rs": "src/lib.rs"}), "a symlink `evil-1.0.0/lib.rs`"),
    "hardlink out": (
        dict(hardlinks={"evil-1.0.0/up": "../outside/sentinel"}),
        f"a hard link `evil-1.0.0/up` {ONLY_FILES}",
    ),
    "hardlink inside": (
        dict(hardlinks={"evil-1.0.0/copy.rs": "evil-1.0.0/src/lib.rs"}),
        "a hard link `evil-1.0.0/copy.rs`",
    ),
    "character device": (
        dict(special={"evil-1.0.0/tty": tarfile.CHRTYPE}),
        f"a character device `evil-1.0.0/tty` {ONLY_FILES}",
    ),
    "block device": (dict(special={"evil-1.0.0/sda": tarfile.BLKTYPE}), "a block device `evil-1.0.0/sda`"),
    "fifo": (dict(special={"evil-1.0.0/pipe": tarfile.FIFOTYPE}), "a FIFO `evil-1.0.0/pipe`"),
    "outside NAME-VERSION": (
        dict(files={"other-1.0.0/x.rs": b""}),
        "a member `other-1.0.0/x.rs` outside `evil-1.0.0/`",
    ),
    "top-level file": (dict(files={"README.md": b""}), "a member `README.md` outside `evil-1.0.0/`"),
    "file named NAME-VERSION": (dict(files={"evil-1.0.0x/y": b""}), "a member `evil-1.0.0x/y` outside"),
    "the top directory a file": (dict(files={"evil-1.0.0": b""}, first=True), "a member `evil-1.0.0` outside"),
    "dot component": (
        dict(files={"evil-1.0.0/./src/x.rs": b""}),
        "a member `evil-1.0.0/./src/x.rs` whose path holds an empty or `.` component",
    ),
    "leading dot-slash": (
        dict(files={"./evil-1.0.0/src/lib.rs": b"evil"}),
        "a member `./evil-1.0.0/src/lib.rs` whose path holds an empty or `.` component",
    ),
    "empty component": (dict(files={"evil-1.0.0//src/x.rs": b""}), "a member `evil-1.0.0//src/x.rs` whose path"),
    "file with a trailing slash": (dict(files={"evil-1.0.0/src/x.rs/": b""}), "a member `evil-1.0.0/src/x.rs/`"),
    "backslashes": (
        dict(files={"evil-1.0.0/..\\..\\outside\\evil": b""}),
        "a member `evil-1.0.0/..\\..\\outside\\evil` whose path holds a backslash",
    ),
    "duplicate file": (
        dict(files={"evil-1.0.0/src/lib.rs": b"second"}, again=True),
        "`evil-1.0.0/src/lib.rs` more than once",
    ),
    "duplicate Cargo.toml": (
        dict(files={"evil-1.0.0/Cargo.toml": manifest("evil", "1.0.0", 'links = "z"\n')}, again=True),
        "`evil-1.0.0/Cargo.toml` more than once",
    ),
    "a directory and a file of one path": (
        dict(directories=("evil-1.0.0/src/lib.rs/",)),
        "`evil-1.0.0/src/lib.rs` more than once",
    ),
    "control characters": (
        dict(files={"evil-1.0.0\x1b[2J\n/x.rs": b""}),
        "a member `evil-1.0.0\\x1b[2J\\n/x.rs` outside `evil-1.0.0/`",
    ),
}


def hostile_crate(case: str) -> bytes:
    """The good crate with the members of `case` added after it (or before it, for `first`)."""
    spec = HOSTILE[case][0]
    raw = io.BytesIO()
    with gzip_tar(raw, format=tarfile.PAX_FORMAT) as archive:
        extra = [(path, data) for path, data in spec.get("files", {}).items()]
        for path, data in (extra + list(GOOD.items())) if spec.get("first") else list(GOOD.items()):
            add_file(archive, path, data)
        if not spec.get("first"):
            for path, data in extra:
                add_file(archive, path, data)
        for path in spec.get("directories", ()):
            info = tarfile.TarInfo(path)
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
        for kind, links in ((tarfile.SYMTYPE, spec.get("symlinks")), (tarfile.LNKTYPE, spec.get("hardlinks"))):
            for path, target in (links or {}).items():
                link = tarfile.TarInfo(path)
                link.type, link.linkname = kind, target
                archive.addfile(link)
        for path, kind in spec.get("special", {}).items():
            archive.addfile(special_member(path, kind))
    return raw.getvalue()


LINKED_MANIFESTS = {
    "Cargo.toml a symlink to /etc/passwd": tar_gz({}, symlinks={"evil-1.0.0/Cargo.toml": "/etc/passwd"}),
    "Cargo.toml a symlink out": tar_gz({}, symlinks={"evil-1.0.0/Cargo.toml": "../../outside/Cargo.toml"}),
    "Cargo.toml a hardlink": tar_gz(
        {"evil-1.0.0/other.toml": manifest("evil", "1.0.0")},
        hardlinks={"evil-1.0.0/Cargo.toml": "evil-1.0.0/other.toml"},
    ),
    "Cargo.toml a directory": tar_gz({}, directories=("evil-1.0.0/Cargo.toml",)),
    "Cargo.toml again, as a link": tar_gz(GOOD, symlinks={"evil-1.0.0/Cargo.toml": "/etc/passwd"}),
}
MEMORY_BOUND = 4 * 1024 * 1024


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
    (tmp_path / "vendor").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path


def publish(registry: Registry, crate: bytes) -> dict:
    return publishing.publish(registry, "evil", crate=crate)


def add(registry: Registry, crate: bytes) -> dict:
    return registry.add(crate)


def import_one(registry: Registry, crate: bytes) -> dict:
    """`palletizer import` of a directory holding only `crate`; raises what it refused the file for."""
    directory = registry.layout.root.parent / "vendor"
    (directory / "evil-1.0.0.crate").write_bytes(crate)
    report = import_directory(compose(registry).operations, directory, actor=Actor("test", LOCAL))
    [outcome] = report.outcomes
    (directory / "evil-1.0.0.crate").unlink()
    if outcome.result == REFUSED:
        raise BadRequest(outcome.reason)
    return registry.entries(outcome.name)[0]


@pytest.mark.parametrize("store", [publish, add, import_one])
@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_member_is_refused_by_name_and_nothing_changes(
    world: Path, registry: Registry, case: str, store: Callable[[Registry, bytes], dict]
) -> None:
    """Refused with a 400 naming the member, before anything is written: no crate file, no index entry,
    nothing outside the data directory (the crate is never extracted)."""
    crate = hostile_crate(case)
    before = tree(world)
    with pytest.raises(PalletizerError) as refused:
        store(registry, crate)
    assert refused.value.status == 400
    assert f"the .crate file has {HOSTILE[case][1]}" in refused.value.detail, refused.value.detail
    assert "\n" not in refused.value.detail
    after = {k: v for k, v in tree(world).items() if not k.startswith(("data/accounts", "data/catalog"))}
    assert after == {k: v for k, v in before.items() if not k.startswith(("data/accounts", "data/catalog"))}
    assert not Path(ABSOLUTE).exists()
    assert registry.verify() == []


@pytest.mark.parametrize("store", [publish, add])
@pytest.mark.parametrize("crate", list(LINKED_MANIFESTS.values()), ids=list(LINKED_MANIFESTS))
def test_a_cargo_toml_that_is_no_regular_file_is_refused(
    world: Path, registry: Registry, crate: bytes, store: Callable[[Registry, bytes], dict]
) -> None:
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
def test_gzip_bomb_is_refused_in_bounded_memory(
    registry: Registry, bomb: bytes, store: Callable[[Registry, bytes], dict]
) -> None:
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
def test_an_archive_of_many_tiny_members_is_read_in_bounded_memory(
    registry: Registry, store: Callable[[Registry, bytes], dict]
) -> None:
    """tarfile keeps every member it has read unless told otherwise: 15,000 members cost ~7 MB, and a
    10 MB crate of them would cost gigabytes."""
    crate = many_members_crate(15_000)
    peak, refused = traced_peak(lambda: store(registry, crate))
    assert peak < MEMORY_BOUND and refused is None, (peak, refused)
    assert registry.stored_crate("evil", "1.0.0") == crate and registry.verify() == []
