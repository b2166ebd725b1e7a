"""Benchmark 6: a crate page with a hostile README (150,000 nested `<div>`) against one with a plain README
(this project's own), viewed through `palletizer-all`; and the one-time cost of rendering each when its
version is recorded. Page views read the README rendered at publish: neither renders anything, and the
hostile one (shown as escaped plain text, several times its size) costs what sending its bytes costs."""

import json
import os
import platform
import time
from pathlib import Path

import requests

from bench.common import Context, alternate, median, palletizer, table
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.readme import render_readme
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.catalog import Catalog
from tests.support.cratekit import make_crate, metadata

ROOT = Path(__file__).resolve().parent.parent
VIEWS_PER_ROUND = 20
HOSTILE = "<div>" * 150_000


def readmes() -> dict[str, str]:
    """The README of each side, by crate name."""
    return {"plain-readme": (ROOT / "README.md").read_text(), "hostile-readme": HOSTILE}


def run(ctx: Context) -> None:
    """Median page view time of each side over alternating rounds, the ratio, and each README's render time."""
    data = ctx.work / "readme-pages" / "data"
    registry = Registry.create(data, RegistryConfig())
    catalog = Catalog(registry.layout.catalog)
    rendering: dict[str, float] = {}
    for name, text in readmes().items():
        described = metadata(name, "1.0.0", readme=text)
        registry.publish(described, make_crate(name, "1.0.0"))
        started = time.perf_counter()
        catalog.record_version(name, "1.0.0", "bench", described)
        rendering[name] = time.perf_counter() - started
        started = time.perf_counter()
        render_readme(text)
        rendering[name] = min(rendering[name], time.perf_counter() - started)

    with palletizer(data) as server, requests.Session() as session:
        page_bytes = {name: len(session.get(f"{server.url}/crates/{name}", timeout=60).content) for name in rendering}

        def views(name: str) -> float:
            took = []
            for _ in range(VIEWS_PER_ROUND):
                started = time.perf_counter()
                answer = session.get(f"{server.url}/crates/{name}", timeout=60)
                took.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
            return median(took)

        for name in rendering:  # warm-up
            views(name)
        results = alternate({name: (lambda name=name: views(name)) for name in rendering}, ctx.repetitions)
    medians = {name: median(values) * 1000 for name, values in results.items()}
    rows = [
        [name, len(text.encode()), page_bytes[name], medians[name], rendering[name] * 1000]
        for name, text in readmes().items()
    ]
    rows.append(
        [
            "hostile / plain",
            "",
            page_bytes["hostile-readme"] / page_bytes["plain-readme"],
            medians["hostile-readme"] / medians["plain-readme"],
            rendering["hostile-readme"] / rendering["plain-readme"],
        ]
    )
    title = (
        f"6. Crate page with a README, median of {ctx.repetitions} rounds of {VIEWS_PER_ROUND} views (ms),"
        " and its rendering once at publish (ms)"
    )
    header = ["README", "README bytes", "page bytes", "page view", "render at publish"]
    print("\n" + table(title, header, rows) + "\n", flush=True)
    ctx.out.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "6-readme-pages",
        "title": title,
        "columns": header,
        "rows": rows,
        "details": {"seconds": results, "render_seconds": rendering},
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (ctx.out / "6-readme-pages.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"(written to {ctx.out / '6-readme-pages.json'})", flush=True)
