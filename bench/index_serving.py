"""Benchmark 1: sparse index serving, Palletizer vs nginx over the same files, plain and conditional (304)."""

from contextlib import ExitStack
from pathlib import Path

import requests

from bench.common import (
    Context,
    alternate,
    free_port,
    front,
    median,
    nginx,
    palletizer,
    report,
    static_config_json,
    static_registry_config,
    wrk,
)
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path

CRATES = 1000
VERSIONS = 3
CONNECTIONS = (1, 8, 64)
VARIANT_CONNECTIONS = 8


def etags(base: str, paths: list[str]) -> list[str]:
    """Each path's current ETag on the server at `base` (checking that it answers 304 to it)."""
    tags = []
    with requests.Session() as session:
        for path in paths:
            answer = session.get(base + path, timeout=10)
            answer.raise_for_status()
            tags.append(answer.headers["ETag"])
        again = session.get(base + paths[0], headers={"If-None-Match": tags[0]}, timeout=10)
        assert again.status_code == 304, (base, again.status_code)
    return tags


def run(ctx: Context) -> None:
    """Requests per second and p50/p99 at 1, 8 and 64 connections, for 200 and 304 answers: Palletizer,
    nginx as `palletizer-front` configures it in front of Palletizer, and nginx serving the files alone."""
    data = ctx.registry(CRATES, VERSIONS)
    paths = index_paths(data)
    port = free_port()
    config_json = ctx.work / "bench1-config.json"
    config_json.write_bytes(static_config_json(f"http://127.0.0.1:{port}"))
    sizes = [(data / "index" / p.removeprefix("/index/")).stat().st_size for p in paths]
    rows, details = [], {"crates": len(paths), "mean_index_file_bytes": sum(sizes) / len(sizes), "runs": []}
    with (
        palletizer(data) as ours,
        nginx(static_registry_config(port, data, config_json), port) as theirs,
        front(data, ours.url) as fronted,
    ):
        servers = {"palletizer": ours.url, "front": fronted.url, "nginx": theirs.url}
        tags = {side: etags(url, paths) for side, url in servers.items()}
        for conditional in (False, True):
            for connections in CONNECTIONS:
                for side, url in servers.items():  # warm-up
                    wrk(url, connections, 1, paths, tags[side] if conditional else None)
                loads = alternate(
                    {
                        side: (
                            lambda url=url, side=side, connections=connections, conditional=conditional: wrk(
                                url, connections, ctx.seconds, paths, tags[side] if conditional else None
                            )
                        )
                        for side, url in servers.items()
                    },
                    ctx.repetitions,
                )
                for side, runs in loads.items():
                    assert all(load.errors == 0 for load in runs), (side, runs)
                rps = {side: median([load.requests_per_second for load in runs]) for side, runs in loads.items()}
                p50 = {side: median([load.p50_ms for load in runs]) for side, runs in loads.items()}
                p99 = {side: median([load.p99_ms for load in runs]) for side, runs in loads.items()}
                answer = "304" if conditional else "200"
                rows.append(
                    [
                        answer,
                        connections,
                        rps["palletizer"],
                        rps["front"],
                        rps["nginx"],
                        rps["palletizer"] / rps["nginx"],
                        rps["front"] / rps["nginx"],
                        p50["palletizer"],
                        p99["palletizer"],
                        p50["nginx"],
                        p99["nginx"],
                    ]
                )
                details["runs"].append(
                    {
                        "answer": answer,
                        "connections": connections,
                        **{side: [vars(load) for load in runs] for side, runs in loads.items()},
                    }
                )
        details["palletizer_rss_kib_peak"] = ours.rss_kib("VmHWM")
        details["palletizer_log_bytes_per_request"] = ours.log.stat().st_size / sum(
            load["requests"] for run_ in details["runs"] for load in run_["palletizer"]
        )
        variants(ctx, data, paths, theirs.url)
    report(
        ctx.out,
        "1-index-serving",
        f"1. Sparse index serving: {len(paths)} index files (mean {details['mean_index_file_bytes']:.0f} B), "
        f"median of {ctx.repetitions} x {ctx.seconds:g} s (wrk)",
        [
            "answer",
            "conns",
            "palletizer req/s",
            "front req/s",
            "nginx req/s",
            "pal/nginx",
            "front/nginx",
            "pal p50 ms",
            "pal p99 ms",
            "nginx p50 ms",
            "nginx p99 ms",
        ],
        rows,
        details,
    )


def index_paths(data: Path) -> list[str]:
    """The sparse index path of every crate of the registry in `data`."""
    return sorted(f"/index/{index_path(s.name)}" for s in Registry(data).summaries())


def variants(ctx: Context, data: Path, paths: list[str], nginx_url: str) -> None:
    """At VARIANT_CONNECTIONS, plain answers: the access log off, and two worker processes (`--workers 2`)."""
    quiet = ["--log-level", "WARNING"]
    setups = {
        "palletizer-all": [],
        "palletizer-all --log-level WARNING": quiet,
        "--workers 2": ["--workers", "2"],
        "--workers 2 --log-level WARNING": ["--workers", "2", *quiet],
    }
    with ExitStack() as stack:
        urls = {name: stack.enter_context(palletizer(data, *extra)).url for name, extra in setups.items()}
        urls["nginx"] = nginx_url
        for url in urls.values():  # warm-up
            wrk(url, VARIANT_CONNECTIONS, 1, paths)
        loads = alternate(
            {name: (lambda url=url: wrk(url, VARIANT_CONNECTIONS, ctx.seconds, paths)) for name, url in urls.items()},
            ctx.repetitions,
        )
    rps = {name: median([load.requests_per_second for load in runs]) for name, runs in loads.items()}
    rows = [[name, rps[name], rps[name] / rps["nginx"], median([load.p99_ms for load in loads[name]])] for name in urls]
    report(
        ctx.out,
        "1b-index-serving-variants",
        f"1b. Index serving variants at {VARIANT_CONNECTIONS} connections (200 answers), median of "
        f"{ctx.repetitions} x {ctx.seconds:g} s",
        ["setup", "req/s", "x nginx", "p99 ms"],
        rows,
        {name: [vars(load) for load in runs] for name, runs in loads.items()},
    )
