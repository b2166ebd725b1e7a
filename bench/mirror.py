"""Benchmark 7: real cargo (`generate-lockfile` + `fetch`, empty CARGO_HOME, crates-io replaced) resolving and
fetching a graph of real crates.io releases (the corpus of `make test-corpus`, Debian's sources packed as crates).

The upstream is nginx serving those releases as a static sparse registry laid out like index.crates.io +
static.crates.io (a `dl` without markers, no `registry` on dependencies). The setups, alternated: cargo straight
from that nginx; cargo through Palletizer mirroring it with a warm cache (every file already cached and fresh);
cargo through Palletizer mirroring it with an empty cache (a new data directory for every run, so each index
file and crate is fetched from nginx, checked and stored while cargo waits); and the same with the new data
directory on a tmpfs, which tells what creating the cache's files costs on this machine's disk (also measured
on its own: `create_ms` in the JSON). Then the same upstream `FAR_MS` away (`bench.delay_proxy` holds each
request back), as a real upstream is: cargo straight from it, and through the mirror with an empty cache."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import BIN, Context, alternate, free_port, median, nginx, palletizer, report, stop
from palletizer_lib.domain.urls import CRATES_IO_ALIASES
from tests.corpus.sources import DEPENDENCIES, SOURCES, pack_all
from tests.support.crate_sources import CORPUS
from tests.support.readiness import NotReady, port_accepts, wait_until_ready

MINIMUM_PACKAGES = 80
WARM_FRESHNESS = 86_400
TMPFS = Path("/dev/shm")
FAR_MS = 20
NGINX = "nginx (upstream direct)"
FAR_NGINX = f"nginx, {FAR_MS} ms away"


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
    done = subprocess.run(
        [str(BIN / "palletizer"), "--data", str(data), "import", str(crates)], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"import of the corpus failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    as_crates_io(data / "index")
    print(f"upstream: {len(tops)} real releases", flush=True)
    return data


def as_crates_io(index: Path) -> None:
    """Index files as index.crates.io writes them: a dependency on crates.io has no `registry` (it is the
    same registry), where Palletizer names crates.io for its own crates' dependencies."""
    for path in index.rglob("*"):
        if path.is_file() and not path.name.startswith(".") and path.name != "config.json":
            entries = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            for entry in entries:
                for dep in entry["deps"]:
                    if dep.get("registry") in CRATES_IO_ALIASES:
                        del dep["registry"]
            path.write_text("".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in entries))


def mirror_data(root: Path, upstream: str, freshness: int) -> Path:
    """A new Palletizer data directory mirroring `upstream` (`palletizer init --upstream`)."""
    data = root / "data"
    subprocess.run(
        [
            str(BIN / "palletizer"),
            "--data",
            str(data),
            "init",
            "--upstream",
            upstream,
            "--upstream-freshness",
            str(freshness),
        ],
        check=True,
        capture_output=True,
    )
    return data


def project(root: Path) -> Path:
    """A binary crate depending on the corpus program's dependencies."""
    app = root / "app"
    (app / "src").mkdir(parents=True)
    (app / "Cargo.toml").write_text(
        '[package]\nname = "mirror-bench"\nversion = "0.1.0"\nedition = "2021"\n'
        f"publish = false\n\n[dependencies]\n{DEPENDENCIES}"
    )
    (app / "src" / "main.rs").write_text("fn main() {}\n")
    return app


def resolve(root: Path, index_url: str) -> tuple[float, int, int]:
    """Seconds for `cargo generate-lockfile` + `cargo fetch` with a fresh CARGO_HOME whose crates-io is
    replaced by `index_url`; the packages locked and the bytes of the crates cargo downloaded."""
    home = root / "cargo-home"
    home.mkdir(parents=True)
    (home / "config.toml").write_text(
        f'[source.crates-io]\nreplace-with = "bench"\n\n[source.bench]\nregistry = "{index_url}"\n\n'
        '[net]\nretry = 0\n\n[term]\ncolor = "never"\n'
    )
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


@contextmanager
def delayed(port: int, target: int, delay_ms: int) -> Iterator[None]:
    """`bench.delay_proxy` on `port` in front of `target`, holding each request back by `delay_ms`."""
    proxy = subprocess.Popen(
        [str(BIN / "python"), "-m", "bench.delay_proxy", str(port), str(target), str(delay_ms)],
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        try:
            wait_until_ready(port_accepts(port), lambda: proxy.poll() is None)
        except NotReady as error:
            raise RuntimeError(f"the delaying proxy did not start: {error}") from None
        yield
    finally:
        stop(proxy)


def measure(base: Path, scratch: Path, repetitions: int) -> dict[str, list[tuple[float, int, int]]]:
    """Every setup's runs (after one warm-up each), alternated, with cargo working under `scratch`."""
    upstream_data = build_upstream(base)
    near, far, proxy = free_port(), free_port(), free_port()
    near_config, far_config = base / "near-config.json", base / "far-config.json"
    near_config.write_text(f'{{"dl": "http://127.0.0.1:{near}/crates"}}')
    far_config.write_text(f'{{"dl": "http://127.0.0.1:{proxy}/crates"}}')
    index, far_index = f"sparse+http://127.0.0.1:{near}/index/", f"sparse+http://127.0.0.1:{proxy}/index/"
    servers = upstream_server(near, upstream_data, near_config) + upstream_server(far, upstream_data, far_config)
    runs = iter(range(1_000_000))
    with (
        nginx(servers, near),
        delayed(proxy, far, FAR_MS),
        palletizer(mirror_data(base / "warm", index, WARM_FRESHNESS)) as warm,
    ):

        def cold(root: Path, upstream: str) -> tuple[float, int, int]:
            number = next(runs)
            data = mirror_data(root / f"cold-{number}", upstream, WARM_FRESHNESS)
            with palletizer(data) as empty:
                measured = resolve(scratch / f"cargo-{number}", f"sparse+{empty.url}/index/")
            shutil.rmtree(data.parent)
            return measured

        sides = {
            NGINX: lambda: resolve(scratch / f"cargo-{next(runs)}", index),
            "mirror, warm cache": lambda: resolve(scratch / f"cargo-{next(runs)}", f"sparse+{warm.url}/index/"),
            "mirror, empty cache": lambda: cold(base, index),
        }
        if scratch.is_relative_to(TMPFS):
            sides["mirror, empty cache, data on tmpfs"] = lambda: cold(scratch, index)
        sides[FAR_NGINX] = lambda: resolve(scratch / f"cargo-{next(runs)}", far_index)
        sides[f"mirror, empty cache, upstream {FAR_MS} ms away"] = lambda: cold(base, far_index)
        for side in sides.values():  # warm-up: nginx's page cache, and the warm side's mirror cache
            side()
        return alternate(sides, repetitions)


def run(ctx: Context) -> None:
    """Median wall time of each setup over 2 × repetitions + 1 alternated runs (a run is short and varies
    more than a load run)."""
    repetitions = 2 * ctx.repetitions + 1
    base = ctx.work / "mirror"
    base.mkdir(parents=True)
    scratch = Path(tempfile.mkdtemp(prefix="palletizer-bench-cargo-", dir=TMPFS if os.access(TMPFS, os.W_OK) else base))
    try:
        results = measure(base, scratch, repetitions)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    packages = {side: {r[1] for r in values} for side, values in results.items()}
    if len(set().union(*packages.values())) != 1:
        raise RuntimeError(f"the setups locked different graphs: {packages}")
    locked = next(iter(packages[NGINX]))
    if locked < MINIMUM_PACKAGES:
        raise RuntimeError(f"{locked} packages locked, fewer than {MINIMUM_PACKAGES}")
    fetched = {side: sorted({r[2] for r in values}) for side, values in results.items()}
    times = {side: [r[0] for r in values] for side, values in results.items()}
    targets = {"mirror, warm cache": "<= 1.1", "mirror, empty cache": "<= 1.5"}
    rows = []
    for side, values in times.items():
        reference = median(times[FAR_NGINX if side.endswith(" away") else NGINX])
        rows.append([side, median(values), min(values), max(values), median(values) / reference, targets.get(side, "")])
    megabytes = max(max(f) for f in fetched.values()) / 1e6
    report(
        ctx.out,
        "7-mirror",
        f"7. cargo generate-lockfile + fetch of {locked} real crates.io packages ({megabytes:.1f} MB of crates), "
        f"empty CARGO_HOME{' on tmpfs' if scratch.is_relative_to(TMPFS) else ''}, crates-io replaced, "
        f"median of {repetitions}",
        ["setup", "median s", "min s", "max s", "x nginx as far", "target"],
        rows,
        {
            "packages": locked,
            "crate_bytes": fetched,
            "releases_upstream": len(SOURCES),
            "warm_freshness_seconds": WARM_FRESHNESS,
            "cargo_home": str(scratch.parent),
            "create_ms": {
                "disk": create_cost(base),
                "tmpfs": create_cost(TMPFS) if scratch.is_relative_to(TMPFS) else None,
            },
            "seconds": times,
        },
    )


def create_cost(where: Path, count: int = 200) -> float:
    """Median milliseconds to create (and close) an empty file in a new directory under `where`."""
    folder = Path(tempfile.mkdtemp(prefix="palletizer-bench-create-", dir=where))
    try:
        times = []
        for number in range(count):
            started = time.perf_counter()
            os.close(os.open(folder / str(number), os.O_CREAT | os.O_WRONLY, 0o644))
            times.append((time.perf_counter() - started) * 1000)
        return median(times)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
