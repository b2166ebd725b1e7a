"""Benchmark 5: memory of `palletizer-all`: idle, under index load at 64 connections, receiving a 10 MiB publish;
and, for reference, a bare Falcon + waitress process."""

import subprocess
import sys
import time

import requests

from bench.common import Context, Server, free_port, median, palletizer, report, stop, wait_for, wrk
from bench.downloads import sized_crate
from bench.index_serving import CRATES, VERSIONS, index_paths
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cratekit import metadata
from tests.support.server import issue_token

LOAD_CONNECTIONS = 64
# The largest crate the default limit (10 MiB) takes, less room for the tar and gzip framing.
PUBLISH_BYTES = 10 * 1024 * 1024 - 64 * 1024
BARE = """
import falcon, waitress
class Hello:
    def on_get(self, req, resp):
        resp.text = "hello"
app = falcon.App()
app.add_route("/", Hello())
waitress.serve(app, listen="127.0.0.1:{port}")
"""


def settle(server: Server) -> int:
    """RSS in KiB once the process is up and has answered a few requests."""
    for _ in range(3):
        requests.get(server.url + "/health", timeout=10)
    time.sleep(1)
    return server.rss_kib()


def bare_rss(ctx: Context) -> int:
    """Idle RSS of a bare Falcon + waitress process answering one route, in KiB."""
    port = free_port()
    log = ctx.work / "bare.log"
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", BARE.format(port=port)], stdout=out, stderr=out)
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for(server.url + "/", process, log)
        for _ in range(3):
            requests.get(server.url + "/", timeout=10)
        time.sleep(1)
        return server.rss_kib()
    finally:
        stop(process)


def publish_peak(ctx: Context, rep: int) -> tuple[int, int]:
    """(RSS before, peak RSS while publishing) of a fresh server receiving a PUBLISH_BYTES crate, in KiB."""
    data = ctx.work / f"memory-publish-{rep}" / "data"
    Registry.create(data, RegistryConfig())
    token = issue_token(data)
    name = f"big-{rep}"
    body = encode_publish_body(metadata(name, "1.0.0"), sized_crate(name, PUBLISH_BYTES))
    with palletizer(data) as server:
        before = settle(server)
        answer = requests.put(
            f"{server.url}/api/v1/crates/new", data=body, timeout=120, headers={"Authorization": token}
        )
        assert answer.status_code == 200, answer.text
        return before, server.rss_kib("VmHWM")


def run(ctx: Context) -> None:
    """Each figure is the median over the repetitions, every one in a fresh process."""
    data = ctx.registry(CRATES, VERSIONS)
    paths = index_paths(data)
    idle, loaded = [], []
    for _ in range(ctx.repetitions):
        with palletizer(data) as server:
            idle.append(settle(server))
            wrk(server.url, LOAD_CONNECTIONS, ctx.seconds, paths)
            loaded.append(server.rss_kib("VmHWM"))
    publishes = [publish_peak(ctx, rep) for rep in range(ctx.repetitions)]
    before = median([b for b, _ in publishes])
    peak = median([p for _, p in publishes])
    copies = (peak - before) * 1024 / PUBLISH_BYTES
    bare = median([bare_rss(ctx) for _ in range(ctx.repetitions)])
    parents, workers = [], []
    for _ in range(ctx.repetitions):
        with palletizer(data, "--workers", "2") as server:
            parents.append(settle(server))
            workers.extend(server.rss_kib(pid=pid) for pid in server.workers())
    mib = 1 / 1024
    rows = [
        ["bare Falcon + waitress, idle", bare * mib, "", ""],
        ["palletizer-all, idle", median(idle) * mib, 40, ""],
        ["palletizer-all --workers 2, idle: each worker", median(workers) * mib, 45, ""],
        ["palletizer-all --workers 2, idle: the supervising process", median(parents) * mib, "", ""],
        [f"palletizer-all, peak under index load ({LOAD_CONNECTIONS} connections)", median(loaded) * mib, 100, ""],
        [
            f"palletizer-all, peak receiving a {PUBLISH_BYTES / 1048576:.2f} MiB publish",
            peak * mib,
            100,
            f"+{(peak - before) * mib:.1f} MiB = {copies:.2f} x the crate",
        ],
    ]
    report(
        ctx.out,
        "5-memory",
        f"5. Memory (RSS, MiB), median of {ctx.repetitions} fresh processes",
        ["process", "RSS MiB", "target MiB", "note"],
        rows,
        {
            "idle_kib": idle,
            "loaded_peak_kib": loaded,
            "publish_before_and_peak_kib": publishes,
            "bare_kib": bare,
            "workers_idle_kib": workers,
            "supervisor_idle_kib": parents,
            "publish_crate_bytes": PUBLISH_BYTES,
        },
    )
