"""What every benchmark shares: servers on loopback (Palletizer, nginx), wrk, alternation, medians, output."""

import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from bench.seed import seeded_registry
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.publish_body import max_publish_body
from palletizer_services.front import NGINX, front_server, nginx_conf
from tests.support.readiness import NotReady, http_answers, wait_until_ready

BIN = Path(sys.executable).parent
LUA = Path(__file__).resolve().parent / "wrk_paths.lua"
K = TypeVar("K")
T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, log: Path) -> None:
    """Wait until `url` answers (any status); fail with the log if the process dies or takes too long."""
    try:
        wait_until_ready(http_answers(url), lambda: process.poll() is None)
    except NotReady as error:
        raise RuntimeError(f"{process.args[0]} did not start: {error}\n{log.read_text()[-3000:]}") from None


def stop(process: subprocess.Popen) -> None:
    """End a process this benchmark started."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class Server:
    """A running server: its base URL (no trailing slash), its process and its log."""

    url: str
    process: subprocess.Popen
    log: Path

    def rss_kib(self, field: str = "VmRSS", pid: int | None = None) -> int:
        """`VmRSS` (now) or `VmHWM` (peak) of the server process (or of its child `pid`), in KiB."""
        pid = pid or self.process.pid
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise RuntimeError(f"no {field} for process {pid}")

    def workers(self) -> list[int]:
        """The pids of the server's worker processes (none when it serves in one process)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        return [int(pid) for pid in children.split()]


@contextmanager
def palletizer(data: Path, *extra: str) -> Iterator[Server]:
    """Run `palletizer-all` on `data` on a loopback port, its log beside the data directory."""
    port = free_port()
    log = data.parent / f"palletizer-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "palletizer-all"), "--data", str(data), "--listen", f"127.0.0.1:{port}", *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for(server.url + "/health", process, log)
        yield server
    finally:
        stop(process)


@contextmanager
def nginx(servers: str, port: int) -> Iterator[Server]:
    """Run nginx (the Debian package) in the foreground with a generated config around `servers`
    (`server` blocks, one of them on 127.0.0.1:`port`)."""
    executable = shutil.which("nginx") or NGINX
    prefix = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_conf(prefix, servers, user="root root" if os.geteuid() == 0 else None))
    log = prefix / "error.log"
    process = subprocess.Popen(
        [executable, "-e", "stderr", "-p", str(prefix), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for(server.url + "/", process, log)
        yield server
    finally:
        stop(process)
        shutil.rmtree(prefix, ignore_errors=True)


def static_registry_config(port: int, data: Path, config_json: Path) -> str:
    """nginx serving a Palletizer data directory as a static sparse registry: `config_json` at
    `/index/config.json`, `index/` under `/index/`, crate files under `/files/` (as `dl` names them)."""
    return (
        f"    server {{\n        listen 127.0.0.1:{port};\n"
        f"        location = /index/config.json {{ alias {config_json}; default_type application/json; }}\n"
        f"        location /index/ {{ alias {data}/index/; }}\n"
        f"        location /files/ {{ alias {data}/crates/; }}\n"
        "        location = / { return 204; }\n"
        "    }\n"
    )


def static_config_json(url: str) -> bytes:
    """A sparse registry's `config.json` for a static server at `url`."""
    return json.dumps({"dl": f"{url}/files/{{crate}}/{{crate}}-{{version}}.crate", "api": url}).encode()


@dataclass(frozen=True)
class Load:
    """What one wrk run measured."""

    requests_per_second: float
    megabytes_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def wrk(
    url: str, connections: int, seconds: float, paths: list[str] | None = None, etags: list[str] | None = None
) -> Load:
    """Load `url` with wrk for `seconds` over `connections` keep-alive connections, cycling through
    `paths` (with `If-None-Match: etags[i]` when given). Errors count failed connections and answers
    other than 2xx and 3xx."""
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        listing = Path(tmp) / "paths.txt"
        lines = [f"{p}\t{etags[i] if etags else ''}" for i, p in enumerate(paths or ["/"])]
        listing.write_text("\n".join(lines) + "\n")
        threads = min(2, connections)
        result = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(LUA),
                url,
                "--",
                str(listing),
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
    line = next(line for line in result.stdout.splitlines() if line.startswith("{"))
    raw = json.loads(line)
    duration = raw["duration_us"] / 1e6
    return Load(
        raw["requests"] / duration,
        raw["bytes"] / duration / 1e6,
        raw["p50_us"] / 1000,
        raw["p99_us"] / 1000,
        raw["requests"],
        raw["errors"],
    )


def alternate(sides: dict[K, Callable[[], T]], repetitions: int) -> dict[K, list[T]]:
    """Run every side `repetitions` times, alternating which goes first; every measurement per side."""
    names = list(sides)
    results: dict[K, list[T]] = {name: [] for name in names}
    for rep in range(repetitions):
        for name in names if rep % 2 == 0 else reversed(names):
            results[name].append(sides[name]())
    return results


def median(values: list[float]) -> float:
    """The median (the mean of the middle two for an even count)."""
    return statistics.median(values)


def ratio_rows(measured: dict[str, list[float]], reference: str) -> list[list]:
    """One row per side: its median, min, max and median over the `reference` side's median."""
    base = median(measured[reference])
    return [
        [side, median(values), min(values), max(values), median(values) / base] for side, values in measured.items()
    ]


def machine() -> dict:
    """What the figures were measured on."""
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "nginx": _first_line(["nginx", "-v"]),
        "wrk": _first_line(["wrk", "-v"]),
    }


def _first_line(command: list[str]) -> str | None:
    """The first line `command` prints (a version), or None if it is not installed (a benchmark run alone
    may need neither nginx nor wrk)."""
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        return None
    lines = (result.stdout + result.stderr).strip().splitlines()
    return lines[0] if lines else None


def table(title: str, header: list[str], rows: list[list[object]]) -> str:
    """A plain text table."""
    cells = [header] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = [
        title,
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=False)))
        for row in cells[1:]
    ]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def report(out_dir: Path, name: str, title: str, header: list[str], rows: list[list[object]], details: dict) -> None:
    """Print the table and write `out_dir/NAME.json` with the rows, the raw measurements and the machine."""
    print("\n" + table(title, header, rows) + "\n", flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "title": title,
        "machine": machine(),
        "columns": header,
        "rows": rows,
        "details": details,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out_dir / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"(written to {out_dir / (name + '.json')})", flush=True)


@dataclass
class Context:
    """One `make bench` run: where things go, how long each measurement lasts, how often it is repeated."""

    work: Path
    out: Path
    repetitions: int
    seconds: float
    scale_sizes: tuple[int, ...] | None = None
    _registries: dict[tuple[int, int], Path] = field(default_factory=dict)

    def registry(self, count: int, versions: int = 1) -> Path:
        """The data directory of a registry with `count` crates of `versions` versions (made once per run)."""
        key = (count, versions)
        if key not in self._registries:
            data = self.work / f"registry-{count}x{versions}" / "data"
            started = time.monotonic()
            print(f"seeding a registry of {count} crates x {versions} versions...", flush=True)
            seeded_registry(data, count, versions)
            print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
            self._registries[key] = data
        return self._registries[key]


@contextmanager
def front(data: Path, upstream: str, port: int | None = None) -> Iterator[Server]:
    """nginx configured by `palletizer-front` over `data`, in front of the Palletizer server at `upstream`."""
    port = port or free_port()
    server = front_server(
        f"127.0.0.1:{port}",
        data,
        index_url=upstream,
        api_url=upstream,
        files_url=upstream,
        max_body=max_publish_body(Registry(data).config.max_crate_size),
    )
    with nginx(server, port) as running:
        yield running
