"""Benchmark 8: what each operation costs as the registry grows (100, 20,000 and 100,000 crates by default;
`--sizes` or `$BENCH_SCALE_SIZES`), every size seeded by `bench.big_registry` (one git commit, packed).

Requests are timed against one server per size, all running, the sizes alternating; start-up and the
first `/metrics` scrape in fresh processes; `verify` and `export` through the CLI. A measurement taking
longer than `$BENCH_SCALE_LIMIT` seconds (default 120; SETUP_LIMIT for what the others need: a server's
start-up, the first export) is abandoned and shown as timed out (so is an export after a first that timed
out); one taking more than ONCE_SECONDS is not repeated.
"""

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.big_registry import seed_registry
from bench.common import BIN, Context, Server, free_port, median, report, stop
from bench.publish_growth import fresh_names
from bench.seed import crate_names, entry_metadata
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.publish_body import encode_publish_body
from tests.support.cargo import REGISTRY, Cargo
from tests.support.cratekit import crate_for
from tests.support.server import issue_token

DEFAULT_SIZES = (100, 20_000, 100_000)
LIMIT = float(os.environ.get("BENCH_SCALE_LIMIT", "120"))
SETUP_LIMIT = 5 * LIMIT
PER_ROUND = 5
SLOW_SECONDS = 1.0
ONCE_SECONDS = 20.0
FRESH_REPETITIONS = 3
QUERY = "foo"
COMMON_QUERY = "core"
MB = 1e6


class TimedOut(Exception):
    """A measurement ran past LIMIT and was abandoned."""


@dataclass
class Side:
    """One registry size: its data directory and the port its servers listen on (its public URL)."""

    size: int
    data: Path
    port: int
    seed_seconds: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def registry(self) -> Registry:
        return Registry(self.data)


def parse_sizes(text: str) -> tuple[int, ...]:
    """Registry sizes from comma-separated crate counts (`100,20000`)."""
    return tuple(int(part) for part in text.split(","))


def sizes_from_environment() -> tuple[int, ...]:
    """`$BENCH_SCALE_SIZES`, else DEFAULT_SIZES."""
    text = os.environ.get("BENCH_SCALE_SIZES")
    return parse_sizes(text) if text else DEFAULT_SIZES


def timed(action: Callable[[], object]) -> float | None:
    """Seconds `action` took, None if it timed out."""
    started = time.perf_counter()
    try:
        action()
    except TimedOut:
        return None
    return time.perf_counter() - started


def sampled(action: Callable[[], object]) -> float | None:
    """The median of PER_ROUND runs of `action` (one run if it is slow), None if one timed out."""
    first = timed(action)
    if first is None or first > SLOW_SECONDS:
        return first
    rest = [timed(action) for _ in range(PER_ROUND - 1)]
    return None if None in rest else median([first, *rest])


def rounds(measures: dict[int, Callable[[], float | None]], repetitions: int) -> dict[int, list[float | None]]:
    """Every measure `repetitions` times, alternating which size goes first; a size whose measure timed out
    or took longer than ONCE_SECONDS (all it did, not only what it measured) is not measured again."""
    results: dict[int, list[float | None]] = {size: [] for size in measures}
    given_up: set[int] = set()
    order = list(measures)
    for rep in range(repetitions):
        for size in order if rep % 2 == 0 else reversed(order):
            if size not in given_up:
                started = time.perf_counter()
                value = measures[size]()
                results[size].append(value)
                if value is None or time.perf_counter() - started > ONCE_SECONDS:
                    given_up.add(size)
    return results


def summary(values: list[float | None]) -> float | None:
    """The median, None if any run timed out."""
    return None if not values or None in values else median(values)


def get(session: requests.Session, url: str) -> None:
    """GET `url`, which must answer 200 within LIMIT."""
    try:
        answer = session.get(url, timeout=LIMIT)
    except requests.Timeout:
        raise TimedOut(url) from None
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: {answer.status_code} {answer.text[:300]}")


def run_command(command: list[str], limit: float = LIMIT, **options: object) -> subprocess.CompletedProcess:
    """Run `command`, which must succeed within `limit` seconds."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=limit, **options)
    except subprocess.TimeoutExpired:
        raise TimedOut(command[0]) from None
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result


@contextmanager
def serving(side: Side) -> Iterator[tuple[Server, float]]:
    """`palletizer-all` on the side's registry and port, and the seconds from its start until `/health`
    answered."""
    log = side.data.parent / "server.log"
    started = time.perf_counter()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(BIN / "palletizer-all"), "--data", str(side.data), "--listen", f"127.0.0.1:{side.port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        while True:
            try:
                requests.get(side.url + "/health", timeout=LIMIT)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.perf_counter() - started > SETUP_LIMIT:
                    raise RuntimeError(f"palletizer-all did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.01)
        yield Server(side.url, process, log), time.perf_counter() - started
    finally:
        stop(process)


def disk_usage(root: Path) -> tuple[int, int]:
    """(bytes on disk, files) under `root`."""
    used = files = 0
    for directory, _, names in os.walk(root):
        for name in names:
            used += os.lstat(os.path.join(directory, name)).st_blocks * 512
            files += 1
    return used, files


def loose_objects(git: Path) -> int:
    """How many loose objects a git directory holds."""
    return sum(1 for path in (git / "objects").glob("??/*") if len(path.parent.name) == 2)


def seed(ctx: Context, size: int) -> Side:
    """A registry of `size` crates, seeded for this run."""
    data = ctx.work / f"scale-{size}" / "data"
    port = free_port()
    print(f"seeding a registry of {size:,} crates...", flush=True)
    started = time.monotonic()
    seed_registry(data, size, f"http://127.0.0.1:{port}")
    seconds = time.monotonic() - started
    print(f"  done in {seconds:.1f} s", flush=True)
    return Side(size, data, port, seconds)


def requests_and_publishes(ctx: Context, sides: list[Side], names: Iterator[str]) -> tuple[dict, dict]:
    """Request latencies against running servers, RSS after them, publishes and `/metrics` after each,
    and `git clone`: (seconds by measure and size, other figures by measure and size)."""
    seconds: dict[str, dict[int, list[float | None]]] = {}
    figures: dict[str, dict[int, object]] = {}
    middle = {side.size: crate_names(side.size)[side.size // 2] for side in sides}
    pages = {
        f"search API ?q={QUERY}&per_page=10 (ms)": lambda s: f"/api/v1/crates?q={QUERY}&per_page=10",
        f"search API ?q={COMMON_QUERY}&per_page=10, many matches (ms)": lambda s: (
            f"/api/v1/crates?q={COMMON_QUERY}&per_page=10"
        ),
        "web list / (ms)": lambda s: "/",
        f"web list /?q={QUERY} (ms)": lambda s: f"/?q={QUERY}",
        "crate page (ms)": lambda s: f"/crates/{middle[s.size]}",
    }
    with ExitStack() as stack:
        servers = {side.size: stack.enter_context(serving(side))[0] for side in sides}
        sessions = {side.size: stack.enter_context(requests.Session()) for side in sides}
        cargos = {
            side.size: Cargo.create(ctx.work / f"scale-cargo-{side.size}", f"sparse+{side.url}/index/")
            for side in sides
        }

        def search_with_cargo(size: int) -> None:
            run_command(
                ["cargo", "search", QUERY, "--registry", REGISTRY, "--limit", "10"],
                cwd=cargos[size].home,
                env=cargos[size].env(),
            )

        for label, path in pages.items():
            print(f"  {label}", flush=True)
            seconds[label] = rounds(
                {
                    s.size: (lambda s=s, path=path: sampled(lambda: get(sessions[s.size], s.url + path(s))))
                    for s in sides
                },
                ctx.repetitions,
            )
        print("  cargo search", flush=True)
        seconds[f"cargo search {QUERY} (ms)"] = rounds(
            {s.size: (lambda s=s: sampled(lambda: search_with_cargo(s.size))) for s in sides}, ctx.repetitions
        )
        figures["RSS after searches and list pages (MB)"] = {
            size: server.rss_kib() * 1024 / MB for size, server in servers.items()
        }

        print("  publishes and /metrics", flush=True)
        tokens = {side.size: issue_token(side.data) for side in sides}
        primed = {side.size: timed(lambda side=side: get(sessions[side.size], side.url + "/metrics")) for side in sides}
        after_publish: dict[int, list[float | None]] = {side.size: [] for side in sides}

        def publish_then_scrape(side: Side) -> float | None:
            name = next(names)
            meta = entry_metadata(name, "1.0.0", [])
            body = encode_publish_body(meta, crate_for(meta, index_url=side.registry.own_index_urls()[0]))

            def put() -> None:
                try:
                    answer = sessions[side.size].put(
                        f"{side.url}/api/v1/crates/new",
                        data=body,
                        timeout=LIMIT,
                        headers={"Authorization": tokens[side.size]},
                    )
                except requests.Timeout:
                    raise TimedOut("publish") from None
                if answer.status_code != 200:
                    raise RuntimeError(f"publish: {answer.status_code} {answer.text[:300]}")

            took = timed(put)
            after_publish[side.size].append(timed(lambda: get(sessions[side.size], side.url + "/metrics")))
            return took

        seconds["publish through the web API (ms)"] = rounds(
            {s.size: (lambda s=s: publish_then_scrape(s)) for s in sides}, ctx.repetitions
        )
        seconds["/metrics right after a publish (ms)"] = after_publish
        figures["first /metrics scrape of a running server, after the requests (s)"] = primed

        print("  git clone", flush=True)
        clone_sizes: dict[int, int] = {}

        def clone(side: Side) -> float | None:
            target = ctx.work / f"scale-clone-{side.size}"
            shutil.rmtree(target, ignore_errors=True)
            took = timed(lambda: run_command(["git", "clone", "--bare", "-q", f"{side.url}/git/index", str(target)]))
            if took is not None:
                clone_sizes[side.size] = disk_usage(target)[0]
            shutil.rmtree(target, ignore_errors=True)
            return took

        seconds["git clone of /git/index (s)"] = rounds(
            {s.size: (lambda s=s: clone(s)) for s in sides}, min(ctx.repetitions, FRESH_REPETITIONS)
        )
        figures["git clone size (MB)"] = {size: used / MB for size, used in clone_sizes.items()}
    return seconds, figures


def fresh_processes(sides: list[Side]) -> dict[str, dict[int, list[float | None]]]:
    """Start-up until `/health` answers, then the first `/metrics` scrape, each in a fresh process."""
    first_scrape: dict[int, list[float | None]] = {side.size: [] for side in sides}

    def start_and_scrape(side: Side) -> float:
        with serving(side) as (server, started), requests.Session() as session:
            first_scrape[side.size].append(timed(lambda: get(session, server.url + "/metrics")))
        return started

    startup = rounds({s.size: (lambda s=s: start_and_scrape(s)) for s in sides}, FRESH_REPETITIONS)
    return {
        "server start-up until /health answers (s)": startup,
        "first /metrics scrape of a fresh process (s)": first_scrape,
    }


def commands(ctx: Context, sides: list[Side]) -> dict[str, dict[int, list[float | None]]]:
    """`palletizer verify`, and `palletizer export` into a new directory, then again with nothing changed."""
    palletizer = str(BIN / "palletizer")

    def verify(side: Side) -> float | None:
        return timed(lambda: run_command([palletizer, "--data", str(side.data), "verify"]))

    def export(side: Side, limit: float = LIMIT) -> float | None:
        target = ctx.work / f"scale-export-{side.size}"
        return timed(
            lambda: run_command(
                [palletizer, "--data", str(side.data), "export", str(target), "--base-url", "http://127.0.0.1:9"], limit
            )
        )

    def again(side: Side) -> float | None:
        return export(side) if first[side.size][0] is not None else None

    print("  verify and export", flush=True)
    verified = rounds({s.size: (lambda s=s: verify(s)) for s in sides}, FRESH_REPETITIONS)
    first = rounds({s.size: (lambda s=s: export(s, SETUP_LIMIT)) for s in sides}, 1)
    return {
        "palletizer verify (s)": verified,
        "palletizer export, first (s)": first,
        "palletizer export, nothing changed (s)": rounds(
            {s.size: (lambda s=s: again(s)) for s in sides}, FRESH_REPETITIONS
        ),
    }


def run(ctx: Context) -> None:
    """Every measurement at every size; the table shows medians, and the ratio of the largest to the smallest."""
    sizes = ctx.scale_sizes or sizes_from_environment()
    sides = [seed(ctx, size) for size in sizes]
    figures: dict[str, dict[int, object]] = {"seeding (s)": {side.size: side.seed_seconds for side in sides}}
    seeded = {side.size: disk_usage(side.data) for side in sides}
    figures["data directory as seeded (MB)"] = {size: used / MB for size, (used, _) in seeded.items()}
    figures["data directory as seeded (files)"] = {size: files for size, (_, files) in seeded.items()}
    names = fresh_names([side.registry for side in sides])
    print("requests against running servers", flush=True)
    seconds, measured = requests_and_publishes(ctx, sides, names)
    figures.update(measured)
    print("fresh processes", flush=True)
    seconds.update(fresh_processes(sides))
    seconds.update(commands(ctx, sides))
    publishes = {str(size): len(runs) for size, runs in seconds["publish through the web API (ms)"].items()}
    figures["loose objects in index.git after the benchmark's commits"] = {
        side.size: loose_objects(side.data / "index.git") for side in sides
    }
    figures["index.git after the benchmark (MB)"] = {
        side.size: disk_usage(side.data / "index.git")[0] / MB for side in sides
    }
    rows = []
    for label, by_size in seconds.items():
        factor = 1000 if label.endswith("(ms)") else 1
        values = {size: summary(runs) for size, runs in by_size.items()}
        rows.append(_row(label, sizes, {size: v * factor if v is not None else None for size, v in values.items()}))
    rows += [_row(label, sizes, by_size) for label, by_size in figures.items()]
    report(
        ctx.out,
        "8-scale",
        f"8. Costs by registry size (crates), medians of up to {ctx.repetitions} rounds (fresh processes and "
        f"commands: {FRESH_REPETITIONS}) of {PER_ROUND} requests each; measurements over {LIMIT:.0f} s abandoned",
        ["operation", *(f"{size:,}" for size in sizes), f"{sizes[-1]:,} / {sizes[0]:,}"],
        rows,
        {
            "limit_seconds": LIMIT,
            "publishes_per_size": publishes,
            "seconds": {
                label: {str(size): runs for size, runs in by_size.items()} for label, by_size in seconds.items()
            },
            "figures": {label: {str(size): v for size, v in by_size.items()} for label, by_size in figures.items()},
        },
    )


def _row(label: str, sizes: tuple[int, ...], values: dict[int, object]) -> list[object]:
    cells: list[object] = [label]
    for size in sizes:
        value = values.get(size)
        cells.append("timed out" if value is None else value)
    first, last = values.get(sizes[0]), values.get(sizes[-1])
    numbers = isinstance(first, (int, float)) and isinstance(last, (int, float)) and first
    cells.append(last / first if numbers else "")
    return cells
