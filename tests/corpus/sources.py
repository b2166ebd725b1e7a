"""The corpus of real crates.io releases: Debian's `librust-*-dev` sources under `/usr/share/cargo/registry/`
(or `$PALLETIZER_CORPUS_DIR`), packed as `.crate` files, and the dependencies of a program that uses a good part
of them (shared by the corpus tests and the mirror benchmark)."""

import io
import os
import tarfile
import tomllib
from pathlib import Path

from tests.support.cratekit import gzip_tar

CORPUS = Path(os.environ.get("PALLETIZER_CORPUS_DIR", "/usr/share/cargo/registry"))
SOURCES = sorted(p for p in CORPUS.glob("*") if (p / "Cargo.toml").is_file()) if CORPUS.is_dir() else []
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


def pack(source: Path) -> tuple[str, bytes]:
    """`NAME-VERSION.crate` for a release's sources: a tar.gz of `NAME-VERSION/` (from its Cargo.toml, not
    the directory's name) without Debian's `.cargo-checksum.json`, byte-for-byte the same on every run."""
    package = tomllib.loads((source / "Cargo.toml").read_text())["package"]
    top = f"{package['name']}-{package['version']}"
    raw = io.BytesIO()
    with gzip_tar(raw, format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source)
            if path.is_file() and not path.is_symlink() and relative.as_posix() != CHECKSUMS:
                info = tarfile.TarInfo(f"{top}/{relative.as_posix()}")
                info.size, info.mode = path.stat().st_size, path.stat().st_mode & 0o755
                with path.open("rb") as data:
                    archive.addfile(info, data)
    return top, raw.getvalue()


def pack_all(crates: Path) -> set[str]:
    """Every release of the corpus packed into `crates/NAME-VERSION.crate`; the NAME-VERSION of each."""
    crates.mkdir(parents=True, exist_ok=True)
    tops = set()
    for source in SOURCES:
        top, crate = pack(source)
        tops.add(top)
        (crates / f"{top}.crate").write_bytes(crate)
    return tops
