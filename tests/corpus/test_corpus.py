"""A corpus of real crates.io releases (Debian's `librust-*-dev` sources under `/usr/share/cargo/registry/`,
installed by `make test-corpus`): every one is imported, then real cargo builds and runs a program using a good
part of them with crates.io replaced by Palletizer, over the sparse and over the git index.

`PALLETIZER_CORPUS_MIN` (set by `make test-corpus`) makes a corpus smaller than that a failure, not a skip.
"""

import os
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.corpus.sources import DEPENDENCIES, SOURCES, pack_all
from tests.support.crate_sources import CORPUS
from tests.support.server import palletizer, running_server

MINIMUM = int(os.environ.get("PALLETIZER_CORPUS_MIN", "0"))
REQUIRED = {
    "memchr",
    "cfg-if",
    "hashbrown",
    "getrandom",
    "bitflags",
    "adler",
    "rustix",
    "linux-raw-sys",
    "compiler_builtins",
    "rustc-demangle",
    "serde",
    "syn",
    "tokio",
    "regex",
}

MAIN = r"""
use std::collections::BTreeMap;
use std::io::{Read, Write};

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use sha2::Digest;

bitflags::bitflags! {
    struct Mode: u8 { const READ = 1; const WRITE = 2; }
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Release { name: String, version: String, deps: Vec<String> }

#[derive(thiserror::Error, Debug)]
#[error("no such crate: {0}")]
struct Missing(String);

cfg_if::cfg_if! {
    if #[cfg(unix)] { fn os() -> &'static str { "unix" } } else { fn os() -> &'static str { "other" } }
}

static NAMES: once_cell::sync::Lazy<Vec<&'static str>> = once_cell::sync::Lazy::new(|| vec!["memchr", "serde", "regex"]);

fn main() -> anyhow::Result<()> {
    let release = Release { name: "demo".into(), version: "1.2.3".into(), deps: NAMES.iter().map(|s| s.to_string()).collect() };
    let json = serde_json::to_string(&release)?;
    let back: Release = serde_json::from_str(&json)?;
    assert_eq!(back, release);
    let version = semver::Version::parse(&back.version)?;
    let re = regex::Regex::new(r"^(\w+)-(\d+)$")?;
    let caps = re.captures("serde-42").ok_or_else(|| Missing("serde".into()))?;
    let found = memchr::memchr(b'-', json.as_bytes()).is_some();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let rolls: Vec<u8> = (0..4).map(|_| rng.gen_range(1..=6)).collect();
    let mut map = hashbrown::HashMap::new();
    map.insert("k", 1);
    let mut fnv_map: std::collections::HashMap<&str, i32, fnv::FnvBuildHasher> = Default::default();
    fnv_map.insert("k", 2);
    let mut index = indexmap::IndexMap::new();
    index.insert("b", 1);
    index.insert("a", 2);
    let mut small: smallvec::SmallVec<[u32; 4]> = smallvec::SmallVec::new();
    small.extend([3, 1, 2]);
    let sorted: Vec<String> = itertools::Itertools::sorted(small.iter()).map(|n| n.to_string()).collect();
    let mut itoa_buf = itoa::Buffer::new();
    let mut ryu_buf = ryu::Buffer::new();
    let digest = hex::encode(sha2::Sha256::digest(b"palletizer"));
    let encoded = base64::encode(b"corpus");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json.as_bytes())?;
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&gz.finish()?[..]).read_to_string(&mut unzipped)?;
    assert_eq!(unzipped, json);
    let mut be = [0u8; 4];
    <byteorder::BigEndian as byteorder::ByteOrder>::write_u32(&mut be, 0x01020304);
    let url = url::Url::parse("http://127.0.0.1/index/?q=x")?;
    let side: either::Either<u8, &str> = either::Either::Right("right");
    let mode = Mode::READ | Mode::WRITE;
    let mut counts = BTreeMap::new();
    counts.insert("crc", crc32fast::hash(b"palletizer"));
    log::info!("not printed without a logger");
    println!("json={json}");
    println!("version={}.{}.{} regex={}:{} memchr={found} os={}", version.major, version.minor, version.patch,
             &caps[1], &caps[2], os());
    println!("rolls={rolls:?} maps={},{} index={:?} sorted={}", map["k"], fnv_map["k"],
             index.keys().collect::<Vec<_>>(), sorted.join(","));
    println!("itoa={} ryu={} sha256={} base64={encoded} gzip-roundtrip=ok be={be:?}", itoa_buf.format(12345u32),
             ryu_buf.format(1.5f64), &digest[..16]);
    println!("url-host={} either={} mode={} crc={:08x}", url.host_str().unwrap_or(""), side.is_right(),
             mode.bits(), counts["crc"]);
    #[derive(clap::Parser)]
    struct Args { #[arg(long, default_value_t = 3)] jobs: u32 }
    let args = <Args as clap::Parser>::parse_from(["app", "--jobs", "5"]);
    let (tx, rx) = crossbeam_channel::bounded(1);
    tx.send(args.jobs)?;
    lazy_static::lazy_static! { static ref TEN: u32 = 10; }
    let md5sum = format!("{:x}", md5::compute(b"palletizer"));
    let sum: u64 = rayon::prelude::ParallelIterator::sum(rayon::prelude::IntoParallelIterator::into_par_iter(1..=100u64));
    let lock = parking_lot::Mutex::new(num_traits::pow(2u32, 10));
    let mut graph = petgraph::graph::DiGraph::<&str, ()>::new();
    let (a, b) = (graph.add_node("a"), graph.add_node("b"));
    graph.add_edge(a, b, ());
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("f"), "x")?;
    let files = walkdir::WalkDir::new(dir.path()).into_iter().filter_map(Result::ok).filter(|e| e.file_type().is_file()).count();
    let fd = rustix::fs::openat(rustix::fs::cwd(), dir.path(), rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY, rustix::fs::Mode::empty())?;
    let stat = rustix::fs::fstat(&fd)?;
    let table: toml::Value = toml::from_str("answer = 42")?;
    let wrapped = textwrap::wrap("a b c d", 3).len();
    let graphemes = unicode_segmentation::UnicodeSegmentation::graphemes("e\u{301}x", true).count();
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let doubled = runtime.block_on(async { let (s, r) = tokio::sync::oneshot::channel(); s.send(21u32).unwrap(); r.await.map(|v| v * 2) })?;
    println!("clap={} channel={} ten={} md5={} rayon={sum} pow={} graph={} files={files} dir={} toml={} wrap={wrapped} graphemes={graphemes} tokio={doubled}",
             args.jobs, rx.recv()?, *TEN, &md5sum[..8], *lock.lock(), graph.edge_count(),
             (stat.st_mode & 0o170000) == 0o040000, table["answer"]);
    println!("corpus ok");
    Ok(())
}
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Every release of the corpus imported into a fresh registry, served by palletizer-all: (root, URL)."""
    if len(SOURCES) < MINIMUM:
        pytest.fail(f"{len(SOURCES)} crate releases in {CORPUS}, fewer than PALLETIZER_CORPUS_MIN={MINIMUM}")
    if not SOURCES:
        pytest.skip(f"no crate sources in {CORPUS}")
    root = tmp_path_factory.mktemp("corpus")
    crates = root / "crates"
    names = pack_all(crates)
    data = root / "data"
    Registry.create(data, RegistryConfig())
    result = palletizer(data, "import", str(crates), check=False)
    summary = [line for line in result.stdout.splitlines() if line.startswith("import: ")]
    assert result.returncode == 0 and summary == [f"import: {len(names)} added, 0 skipped, 0 refused"], (
        result.stdout[-4000:] + result.stderr[-2000:]
    )
    with running_server(data) as url:
        yield root, url


def test_the_corpus_is_big_enough() -> None:
    assert len(SOURCES) >= MINIMUM, f"{len(SOURCES)} crate releases in {CORPUS}, fewer than {MINIMUM}"
    if MINIMUM:
        names = {release.name for release in SOURCES}
        assert names >= REQUIRED, f"missing from the corpus: {sorted(REQUIRED - names)}"


@pytest.mark.parametrize("index", ["sparse", "git"])
def test_cargo_builds_a_program_from_the_corpus(corpus: tuple[Path, str], index: str) -> None:
    root, url = corpus
    registry = f"sparse+{url}/index/" if index == "sparse" else f"{url}/git/index"
    home = root / f"cargo-home-{index}"
    home.mkdir()
    (home / "config.toml").write_text(
        '[source.crates-io]\nreplace-with = "palletizer"\n\n'
        f'[source.palletizer]\nregistry = "{registry}"\n\n[net]\nretry = 0\n\n[term]\ncolor = "never"\n'
    )
    app = root / f"app-{index}"
    (app / "src").mkdir(parents=True)
    (app / "Cargo.toml").write_text(
        f'[package]\nname = "corpus-app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n{DEPENDENCIES}'
    )
    (app / "src" / "main.rs").write_text(MAIN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
    env.update(CARGO_HOME=str(home), CARGO_TARGET_DIR=str(root / f"target-{index}"), CARGO_HTTP_TIMEOUT="30")

    def cargo(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(["cargo", *args], cwd=app, env=env, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, f"cargo {' '.join(args)} failed:\n{done.stdout}\n{done.stderr[-8000:]}"
        return done

    cargo("generate-lockfile")
    lock = tomllib.loads((app / "Cargo.lock").read_text())
    packages = {p["name"] for p in lock["package"] if p.get("source", "").startswith("registry+")}
    assert REQUIRED - {"compiler_builtins", "rustc-demangle"} <= packages
    assert all(
        p["source"] == "registry+https://github.com/rust-lang/crates.io-index" for p in lock["package"] if "source" in p
    )
    built = cargo("build").stderr
    compiled = {line.split()[1] for line in built.splitlines() if line.strip().startswith("Compiling ")}
    assert len(compiled) >= 70, built
    output = cargo("run", "-q").stdout
    assert output.splitlines()[-1] == "corpus ok", output
    assert 'json={"name":"demo","version":"1.2.3","deps":["memchr","serde","regex"]}' in output
    assert "rayon=5050 pow=1024 graph=1 files=1 dir=true toml=42 wrap=2 graphemes=2 tokio=42" in output
    assert "regex=serde:42" in output and "gzip-roundtrip=ok" in output and "be=[1, 2, 3, 4]" in output
    print(f"{index}: {len(packages)} crates of the corpus locked, {len(compiled) - 1} compiled\n{output}")
