"""Benchmark 4: publish latency as the registry grows (10, 1,000 and 10,000 crates): through the web API,
with the CLI's `add`, and in-process through the library (no HTTP, no interpreter start)."""

import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack

import requests

from bench.common import BIN, Context, alternate, median, palletizer, report
from bench.seed import crate_names, entry_metadata
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.publish_body import encode_publish_body
from tests.support.cratekit import crate_for
from tests.support.server import issue_token

SIZES = (10, 1000, 10_000)
PER_ROUND = 4


def fresh_names(registries: list[Registry]) -> Iterator[str]:
    """Names no registry here holds yet (spread over the index like real ones)."""
    for name in crate_names(100_000, seed=99):
        if all(registry.canonical_name(name) is None for registry in registries):
            yield name


def run(ctx: Context) -> None:
    """Median latency of each way to publish at each size; the ratio of the largest to the smallest."""
    datas = {size: ctx.registry(size) for size in SIZES}
    registries = {size: Registry(data) for size, data in datas.items()}
    names = fresh_names(list(registries.values()))
    tokens = {size: issue_token(data) for size, data in datas.items()}
    files = ctx.work / "publish-crates"
    files.mkdir()

    def api(size: int, url: str) -> float:
        with requests.Session() as session:
            took = []
            for _ in range(PER_ROUND):
                name = next(names)
                meta = entry_metadata(name, "1.0.0", [])
                body = encode_publish_body(meta, crate_for(meta))
                started = time.perf_counter()
                answer = session.put(
                    f"{url}/api/v1/crates/new", data=body, timeout=60, headers={"Authorization": tokens[size]}
                )
                took.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
        return median(took)

    def cli(size: int) -> float:
        name = next(names)
        crate = files / f"{name}-1.0.0.crate"
        crate.write_bytes(crate_for(entry_metadata(name, "1.0.0", [])))
        started = time.perf_counter()
        subprocess.run(
            [str(BIN / "palletizer"), "--data", str(datas[size]), "add", str(crate)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        return time.perf_counter() - started

    def library(size: int) -> float:
        took = []
        for _ in range(PER_ROUND):
            name = next(names)
            metadata = entry_metadata(name, "1.0.0", [])
            crate = crate_for(metadata)
            started = time.perf_counter()
            registries[size].publish(metadata, crate)
            took.append(time.perf_counter() - started)
        return median(took)

    results: dict[str, dict[int, list[float]]] = {}
    with ExitStack() as stack:
        urls = {size: stack.enter_context(palletizer(datas[size])).url for size in SIZES}
        for size in SIZES:  # warm-up
            api(size, urls[size])
        results["API publish"] = alternate(
            {size: (lambda size=size: api(size, urls[size])) for size in SIZES}, ctx.repetitions
        )
    results["CLI add"] = alternate({size: (lambda size=size: cli(size)) for size in SIZES}, ctx.repetitions)
    results["library publish"] = alternate({size: (lambda size=size: library(size)) for size in SIZES}, ctx.repetitions)
    rows = []
    for way, by_size in results.items():
        medians = {size: median(values) * 1000 for size, values in by_size.items()}
        rows.append([way, *(medians[size] for size in SIZES), medians[SIZES[-1]] / medians[SIZES[0]]])
    report(
        ctx.out,
        "4-publish-growth",
        f"4. Publish latency (ms) by registry size, median of {ctx.repetitions} rounds"
        f" (API and library: median of {PER_ROUND} publishes per round)",
        ["way", *(f"{size:,} crates" for size in SIZES), f"{SIZES[-1]:,} / {SIZES[0]}"],
        rows,
        {"seconds": {way: {str(size): values for size, values in by_size.items()} for way, by_size in results.items()}},
    )
