"""Benchmark 7: real cargo (`generate-lockfile` + `fetch`, empty CARGO_HOME, crates-io replaced) resolving and
fetching a graph of real crates.io releases (the corpus of `make test-corpus`, Debian's sources packed as crates).

The upstream is nginx serving those releases as a static sparse registry laid out like index.crates.io +
static.crates.io (a `dl` without markers). Three setups, alternated: cargo straight from that nginx; cargo through
Palletizer mirroring it with a warm cache (every file already cached and fresh); cargo through Palletizer
mirroring it with an empty cache (a new data directory for every run, so each index file and crate is fetched
from nginx, checked and stored while cargo waits)."""

import os
import shutil
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

from bench.common import BIN, Context, alternate, free_port, median, nginx, palletizer, report
from tests.corpus.sources import CORPUS, DEPENDENCIES, SOURCES, pack_all

MINIMUM_PACKAGES = 80
WARM_FRESHNESS = 86_400
TMPFS = Path("/dev/shm")


def upstream_server(port: int, data: Path, config_json: Path) -> str:
    """nginx serving a Palletizer data directory as crates.io serves its index and crates: the index under
    `/index/`, crate files at `/crates/NAME/VERSION/download`."""
    return (
        f"    server {{\n        listen 127.0.0.1:{port};\n"
        f"        location = /index/config.json {{ alias {config_json}; default_type application/json; }}\n"
        f"        location /index/ {{ alias {data}/index/; }}\n"
        "        location ~ ^/crates/([^/]+)/([^/]+)/download$ {\n"
        f"            alias {data}/crates/$1/$1-$2.crate; default_type application/gzip;\n"
        "        }\n"
        "        location = / { return 204; }\n"
        "    }\n"
    )


def build_upstream(root: Path) -> Path:
    """The corpus imported into a registry whose data directory nginx serves as the upstream."""
    if not SOURCES:
        raise SystemExit(f"no crate sources in {CORPUS}: `make test-corpus` installs them")
    crates = root / "corpus-crates"
    tops = pack_all(crates)
    data = root / "upstream-data"
    subprocess.run([str(BIN / "palletizer"), "--data", str(data), "init"], check=True, capture_output=True)
    done = subprocess.run([str(BIN / "palletizer"), "--data", str(data), "import", str(crates)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"import of the corpus failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    print(f"upstream: {len(tops)} real releases", flush=True)
    return data


def mirror_data(root: Path, upstream: str, freshness: int) -> Path:
    """A new Palletizer data directory mirroring `upstream` (`palletizer init --upstream`)."""
    data = root / "data"
    subprocess.run([str(BIN / "palletizer"), "--data", str(data), "init", "--upstream", upstream,
                    "--upstream-freshness", str(freshness)], check=True, capture_output=True)
    return data


def project(root: Path) -> Path:
    """A binary crate depending on the corpus program's dependencies."""
    app = root / "app"
    (app / "src").mkdir(parents=True)
    (app / "Cargo.toml").write_text('[package]\nname = "mirror-bench"\nversion = "0.1.0"\nedition = "2021"\n'
                                    f"publish = false\n\n[dependencies]\n{DEPENDENCIES}")
    (app / "src" / "main.rs").write_text("fn main() {}\n")
    return app


def resolve(root: Path, index_url: str) -> tuple[float, int, int]:
    """Seconds for `cargo generate-lockfile` + `cargo fetch` with a fresh CARGO_HOME whose crates-io is
    replaced by `index_url`; the packages locked and the bytes of the crates cargo downloaded."""
    home = root / "cargo-home"
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        f'[source.crates-io]\nreplace-with = "bench"\n\n[source.bench]\nregistry = "{index_url}"\n\n'
        '[net]\nretry = 0\n\n[term]\ncolor = "never"\n')
    app = project(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
    env.update(CARGO_HOME=str(home), CARGO_HTTP_TIMEOUT="60")
    started = time.monotonic()
    for command in ("generate-lockfile", "fetch"):
        done = subprocess.run(["cargo", command], cwd=app, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"cargo {command} via {index_url} failed:\n{done.stderr[-4000:]}")
    elapsed = time.monotonic() - started
    locked = sum(1 for p in tomllib.loads((app / "Cargo.lock").read_text())["package"] if "source" in p)
    fetched = sum(f.stat().st_size for f in (home / "registry" / "cache").rglob("*.crate"))
    shutil.rmtree(root)
    return elapsed, locked, fetched


def measure(base: Path, scratch: Path, repetitions: int) -> dict[str, list[tuple[float, int, int]]]:
    """Every setup's runs (after one warm-up each), alternated, with cargo working under `scratch`."""
    upstream_data = build_upstream(base)
    port = free_port()
    upstream_url = f"http://127.0.0.1:{port}"
    config_json = base / "upstream-config.json"
    config_json.write_text(f'{{"dl": "{upstream_url}/crates"}}')
    index = f"sparse+{upstream_url}/index/"
    runs = iter(range(1_000_000))
    with nginx(upstream_server(port, upstream_data, config_json), port), \
            palletizer(mirror_data(base / "warm", index, WARM_FRESHNESS)) as warm:

        def cold() -> tuple[float, int, int]:
            number = next(runs)
            data = mirror_data(base / f"cold-{number}", index, WARM_FRESHNESS)
            with palletizer(data) as empty:
                measured = resolve(scratch / f"cargo-{number}", f"sparse+{empty.url}/index/")
            shutil.rmtree(data.parent)
            return measured

        sides = {
            "nginx (upstream direct)": lambda: resolve(scratch / f"cargo-{next(runs)}", index),
            "mirror, warm cache": lambda: resolve(scratch / f"cargo-{next(runs)}", f"sparse+{warm.url}/index/"),
            "mirror, empty cache": cold,
        }
        for side in sides.values():  # warm-up: nginx's page cache, and the warm side's mirror cache
            side()
        return alternate(sides, repetitions)


def run(ctx: Context) -> None:
    """Median wall time of each setup over 2 × repetitions + 1 alternated runs (a run is short and varies
    more than a load run)."""
    repetitions = 2 * ctx.repetitions + 1
    base = ctx.work / "mirror"
    base.mkdir(parents=True)
    scratch = Path(tempfile.mkdtemp(prefix="palletizer-bench-cargo-",
                                    dir=TMPFS if os.access(TMPFS, os.W_OK) else base))
    try:
        results = measure(base, scratch, repetitions)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    packages = {side: {r[1] for r in values} for side, values in results.items()}
    if len(set().union(*packages.values())) != 1:
        raise RuntimeError(f"the setups locked different graphs: {packages}")
    locked = next(iter(packages["nginx (upstream direct)"]))
    if locked < MINIMUM_PACKAGES:
        raise RuntimeError(f"{locked} packages locked, fewer than {MINIMUM_PACKAGES}")
    fetched = {side: sorted({r[2] for r in values}) for side, values in results.items()}
    times = {side: [r[0] for r in values] for side, values in results.items()}
    reference = median(times["nginx (upstream direct)"])
    targets = {"nginx (upstream direct)": "", "mirror, warm cache": "<= 1.1", "mirror, empty cache": "<= 1.5"}
    rows = [[side, median(values), min(values), max(values), median(values) / reference, targets[side]]
            for side, values in times.items()]
    megabytes = max(max(f) for f in fetched.values()) / 1e6
    report(ctx.out, "7-mirror",
           f"7. cargo generate-lockfile + fetch of {locked} real crates.io packages ({megabytes:.1f} MB of crates), "
           f"empty CARGO_HOME{' on tmpfs' if scratch.is_relative_to(TMPFS) else ''}, crates-io replaced, "
           f"median of {repetitions}",
           ["setup", "median s", "min s", "max s", "x nginx", "target"], rows,
           {"packages": locked, "crate_bytes": fetched, "releases_upstream": len(SOURCES),
            "warm_freshness_seconds": WARM_FRESHNESS, "cargo_home": str(scratch.parent), "seconds": times})
