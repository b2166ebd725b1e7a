"""The corpus of real crates.io releases: Debian's `librust-*-dev` sources under `/usr/share/cargo/registry/`
(or `$PALLETIZER_CORPUS_DIR`), packed as `.crate` files, and the dependencies of a program that uses a good part
of them (shared by the corpus tests and the mirror benchmark)."""

import io
import tarfile
from pathlib import Path

from tests.support.crate_sources import Release, releases
from tests.support.cratekit import gzip_tar

SOURCES = releases()
CHECKSUMS = ".cargo-checksum.json"

DEPENDENCIES = """\
anyhow = "1"
clap = { version = "4", features = ["derive"] }
crossbeam-channel = "0.5"
base64 = "0.13"
bitflags = "1"
byteorder = "1"
cfg-if = "1"
crc32fast = "1"
either = "1"
flate2 = "1"
fnv = "1"
hashbrown = "0.12"
hex = "0.4"
indexmap = "1"
itertools = "0.10"
itoa = "1"
lazy_static = "1"
log = "0.4"
md5 = "0.7"
memchr = "2"
num-traits = "0.2"
once_cell = "1"
parking_lot = "0.12"
petgraph = "0.6"
rand = "0.8"
rayon = "1"
regex = "1"
rustix = { version = "0.35", features = ["fs"] }
ryu = "1"
semver = "1"
serde = { version = "1", features = ["derive"] }
serde_json = "1"
sha2 = "0.10"
smallvec = "1"
tempfile = "3"
textwrap = "0.16"
thiserror = "1"
tokio = { version = "1", features = ["rt", "macros", "sync"] }
toml = "0.5"
unicode-segmentation = "1"
url = "2"
walkdir = "2"
"""


def pack(release: Release) -> bytes:
    """A release's `.crate`: a tar.gz of `NAME-VERSION/` (from its Cargo.toml, not the folder's name) without
    Debian's `.cargo-checksum.json`, byte-for-byte the same on every run."""
    raw = io.BytesIO()
    with gzip_tar(raw, format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(release.source.rglob("*")):
            relative = path.relative_to(release.source)
            if path.is_file() and not path.is_symlink() and relative.as_posix() != CHECKSUMS:
                info = tarfile.TarInfo(f"{release.top}/{relative.as_posix()}")
                info.size, info.mode = path.stat().st_size, path.stat().st_mode & 0o755
                with path.open("rb") as data:
                    archive.addfile(info, data)
    return raw.getvalue()


def pack_all(crates: Path) -> set[str]:
    """Every release of the corpus packed into `crates/NAME-VERSION.crate`; the NAME-VERSION of each."""
    crates.mkdir(parents=True, exist_ok=True)
    for release in SOURCES:
        (crates / f"{release.top}.crate").write_bytes(pack(release))
    return {release.top for release in SOURCES}
