"""Benchmark 3: real cargo (`generate-lockfile` + `fetch`, empty CARGO_HOME) over ~200 registry crates:
palletizer-all, nginx serving the same index and crates as a static sparse registry, and nginx in front
of Palletizer as `palletizer-front` configures it (files from disk, the rest proxied)."""

import shutil
import time
from pathlib import Path

from bench.common import (
    Context,
    alternate,
    free_port,
    front,
    nginx,
    palletizer,
    ratio_rows,
    report,
    static_config_json,
    static_registry_config,
)
from bench.seed import crate_names, entry_metadata, no_fsync, own_index
from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cargo import Cargo, write_crate
from tests.support.cratekit import crate_for
from tests.support.graph import reg

CRATES = 200
FANOUT = 4
VERSIONS = ("0.1.0", "0.1.1", "0.2.0")
DIRECT = 6


def dependencies(i: int, names: list[str]) -> list[str]:
    """Crate i's dependencies: its children in a tree of FANOUT, and one crate further down."""
    children = [names[c] for c in range(FANOUT * i + 1, min(FANOUT * i + FANOUT + 1, len(names)))]
    extra = (i * 7 + 13) % len(names)
    return children + ([names[extra]] if extra > FANOUT * i + FANOUT and names[extra] not in children else [])


def build_graph(data: Path) -> list[str]:
    """A registry of CRATES crates, each in three versions, every one reachable from the first DIRECT."""
    return publish_graph(Registry.create(data, RegistryConfig()))


def publish_graph(registry: Registry) -> list[str]:
    """Publish the graph's CRATES crates (three versions each) to `registry`; their names."""
    names = crate_names(CRATES, seed=3)
    index_url = own_index(registry)
    with no_fsync():
        for i, name in enumerate(names):
            for version in VERSIONS:
                meta = entry_metadata(name, version, dependencies(i, names))
                registry.publish(meta, crate_for(meta, index_url=index_url))
    return names


def project(root: Path, names: list[str]) -> Path:
    """A binary crate depending on the first DIRECT crates of the graph."""
    toml = (
        '[package]\nname = "bench-app"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n'
        "[dependencies]\n" + "".join(reg(name, "0.1") for name in names[:DIRECT])
    )
    return write_crate(root, "bench-app", toml, {"src/main.rs": "fn main() {}\n"})


def resolve(root: Path, index_url: str, names: list[str]) -> float:
    """Seconds for `cargo generate-lockfile` + `cargo fetch` with a fresh CARGO_HOME (and a check of the lock)."""
    root.mkdir(parents=True)
    cargo = Cargo.create(root, index_url)
    app = project(root, names)
    started = time.monotonic()
    cargo.run(app, "generate-lockfile")
    cargo.run(app, "fetch")
    elapsed = time.monotonic() - started
    locked = (app / "Cargo.lock").read_text().count("[[package]]")
    assert locked == len(names) + 1, f"{locked} packages in Cargo.lock, expected {len(names) + 1}"
    shutil.rmtree(root)
    return elapsed


def run(ctx: Context) -> None:
    """Median wall time of each setup, alternating the order; a run takes about a second, and varies much
    more than a load run, so there are twice as many repetitions (and one)."""
    repetitions = 2 * ctx.repetitions + 1
    data = ctx.work / "cargo" / "data"
    names = build_graph(data)
    front_data = ctx.work / "cargo-front" / "data"
    shutil.copytree(data, front_data)
    static_port, front_port = free_port(), free_port()
    front_url = f"http://127.0.0.1:{front_port}"
    config_json = ctx.work / "bench3-config.json"
    config_json.write_bytes(static_config_json(f"http://127.0.0.1:{static_port}"))
    runs = iter(range(1_000_000))
    with (
        palletizer(data) as ours,
        nginx(static_registry_config(static_port, data, config_json), static_port) as static,
        palletizer(front_data, "--public-url", front_url) as behind,
        front(front_data, behind.url, front_port) as fronted,
    ):
        urls = {"palletizer-all": ours.url, "nginx (static)": static.url, "nginx front + palletizer": fronted.url}
        sides = {
            side: (
                lambda url=url, side=side: resolve(ctx.work / f"cargo-run-{next(runs)}", f"sparse+{url}/index/", names)
            )
            for side, url in urls.items()
        }
        for measure in sides.values():  # warm-up (the servers' caches; cargo's own are fresh every time)
            measure()
        times = alternate(sides, repetitions)
    rows = ratio_rows(times, "nginx (static)")
    report(
        ctx.out,
        "3-cargo-resolution",
        f"3. cargo generate-lockfile + fetch, empty CARGO_HOME, {CRATES} crates ({len(VERSIONS)} versions each), "
        f"median of {repetitions}",
        ["setup", "median s", "min s", "max s", "x nginx"],
        rows,
        {"crates": CRATES, "versions": len(VERSIONS), "direct_dependencies": DIRECT, "seconds": times},
    )
