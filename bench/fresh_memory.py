"""Benchmark 5b (`idle`): the resident memory of a fresh `palletizer-all`, as a new user sees it: right after
start (its port accepts connections, no request yet), then after one request of each kind, in turn."""

import socket
import subprocess
import time
from pathlib import Path

import requests

from bench.common import BIN, Context, Server, free_port, median, report, stop
from bench.index_serving import CRATES, VERSIONS
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from tests.support.readiness import READY_SECONDS

# Time for the process to settle after a request (threads back to idle, the log written).
SETTLE_SECONDS = 1.0


def requests_of_each_kind(data: Path) -> list[tuple[str, str]]:
    """(kind, path) of one request of each kind a registry answers, for one of the crates of `data`."""
    summary = min(Registry(data).summaries(), key=lambda s: s.name)
    name, version = summary.name, summary.max_version
    return [
        ("health", "/health"),
        ("config.json", "/index/config.json"),
        ("sparse index file", f"/index/{index_path(name)}"),
        ("download", f"/files/{name}/{name}-{version}.crate"),
        ("search API", f"/api/v1/crates?q={name}"),
        ("crate document API", f"/api/v1/crates/{name}"),
        ("README", f"/api/v1/crates/{name}/{version}/readme"),
        ("git index refs", "/git/index/info/refs?service=git-upload-pack"),
        ("web front page", "/"),
        ("web crate page", f"/crates/{name}"),
        ("metrics", "/metrics"),
    ]


def wait_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    """Wait until `port` accepts a connection, sending no request."""
    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"palletizer-all did not start:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.05)


def one_fresh_process(data: Path, kinds: list[tuple[str, str]]) -> list[int]:
    """RSS in KiB of a new palletizer-all after start, then after each request of `kinds` in turn."""
    port = free_port()
    log = data.parent / f"fresh-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "palletizer-all"), "--data", str(data), "--listen", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_listening(port, process, log)
        time.sleep(SETTLE_SECONDS)
        measured = [server.rss_kib()]
        for kind, path in kinds:
            answer = requests.get(server.url + path, timeout=30)
            assert answer.status_code in (200, 404), f"{kind}: {answer.status_code} {answer.text[:200]}"
            time.sleep(SETTLE_SECONDS)
            measured.append(server.rss_kib())
        return measured
    finally:
        stop(process)


def run(ctx: Context) -> None:
    """Each figure is the median over the repetitions, every one a fresh process on the same registry."""
    data = ctx.registry(CRATES, VERSIONS)
    kinds = requests_of_each_kind(data)
    runs = [one_fresh_process(data, kinds) for _ in range(ctx.repetitions)]
    steps = ["after start, no request yet", *(f"after one {kind} request" for kind, _ in kinds)]
    medians = [median([run[i] for run in runs]) for i in range(len(steps))]
    mib = 1 / 1024
    rows = [[step, value * mib, (value - medians[0]) * mib] for step, value in zip(steps, medians, strict=False)]
    report(
        ctx.out,
        "5b-fresh-memory",
        f"5b. Memory of a fresh palletizer-all ({CRATES} crates x {VERSIONS} versions): RSS, MiB, median of "
        f"{ctx.repetitions} fresh processes, each request in turn",
        ["after", "RSS MiB", "over start MiB"],
        rows,
        {
            "steps": steps,
            "paths": [path for _, path in kinds],
            "rss_kib_per_process": runs,
            "median_rss_kib": medians,
            "settle_seconds": SETTLE_SECONDS,
        },
    )
