"""Benchmark 2: crate downloads (10 KiB, 1 MiB, 10 MiB), Palletizer vs nginx over the same files."""

import os

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
from bench.seed import no_fsync
from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cratekit import make_crate, metadata

SIZES = {"10 KiB": 10 * 1024, "1 MiB": 1024 * 1024, "10 MiB": 10 * 1024 * 1024}
CONNECTIONS = 8


def sized_crate(name: str, size: int) -> bytes:
    """A valid .crate of about `size` bytes (incompressible content)."""
    payload = os.urandom(max(0, size - 400))
    return make_crate(name, "1.0.0", files={"data.bin": payload})


def run(ctx: Context) -> None:
    """MB/s over CONNECTIONS connections for each size."""
    data = ctx.work / "downloads" / "data"
    registry = Registry.create(data, RegistryConfig(max_crate_size=16 * 1024 * 1024))
    crates = {}
    with no_fsync():
        for label, size in SIZES.items():
            name = f"size-{size}"
            crate = sized_crate(name, size)
            registry.publish(metadata(name, "1.0.0"), crate)
            crates[label] = (f"/files/{name}/{name}-1.0.0.crate", len(crate))
    port = free_port()
    config_json = ctx.work / "bench2-config.json"
    config_json.write_bytes(static_config_json(f"http://127.0.0.1:{port}"))
    rows, details = [], {"connections": CONNECTIONS, "runs": []}
    with (
        palletizer(data) as ours,
        palletizer(data, "--workers", "2") as two,
        nginx(static_registry_config(port, data, config_json), port) as theirs,
        front(data, ours.url) as fronted,
    ):
        servers = {"palletizer": ours.url, "workers": two.url, "front": fronted.url, "nginx": theirs.url}
        for label, (path, size) in crates.items():
            for url in servers.values():  # warm-up
                wrk(url, CONNECTIONS, 1, [path])
            loads = alternate(
                {
                    side: (lambda url=url, path=path: wrk(url, CONNECTIONS, ctx.seconds, [path]))
                    for side, url in servers.items()
                },
                ctx.repetitions,
            )
            for side, runs in loads.items():
                assert all(load.errors == 0 and load.requests > 0 for load in runs), (side, runs)
            mbps = {side: median([load.megabytes_per_second for load in runs]) for side, runs in loads.items()}
            p50 = {side: median([load.p50_ms for load in runs]) for side, runs in loads.items()}
            rows.append(
                [
                    label,
                    size,
                    mbps["palletizer"],
                    mbps["workers"],
                    mbps["front"],
                    mbps["nginx"],
                    mbps["palletizer"] / mbps["nginx"],
                    mbps["workers"] / mbps["nginx"],
                    mbps["front"] / mbps["nginx"],
                    p50["palletizer"],
                    p50["nginx"],
                ]
            )
            details["runs"].append(
                {"size": label, "bytes": size, **{side: [vars(load) for load in runs] for side, runs in loads.items()}}
            )
        details["palletizer_rss_kib_peak"] = ours.rss_kib("VmHWM")
    report(
        ctx.out,
        "2-downloads",
        f"2. Crate downloads over {CONNECTIONS} connections, median of {ctx.repetitions} x {ctx.seconds:g} s (wrk)",
        [
            "crate",
            "bytes",
            "palletizer MB/s",
            "--workers 2 MB/s",
            "front MB/s",
            "nginx MB/s",
            "pal/nginx",
            "workers/nginx",
            "front/nginx",
            "pal p50 ms",
            "nginx p50 ms",
        ],
        rows,
        details,
    )
