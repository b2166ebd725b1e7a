"""Start the real `palletizer-all` on a free loopback port for a test."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def palletizer(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the `palletizer` CLI on `data`."""
    result = subprocess.run([str(BIN / "palletizer"), "--data", str(data), *args],
                            capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"palletizer {' '.join(args)} failed: {result.stderr}")
    return result


@contextmanager
def running_server(data: Path, *extra: str) -> Iterator[str]:
    """Run `palletizer-all` on `data` and yield its base URL (no trailing slash)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(data.parent / f"server-{port}.log", "wb")
    process = subprocess.Popen([str(BIN / "palletizer-all"), "--data", str(data),
                                "--listen", f"127.0.0.1:{port}", *extra],
                               stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/index/config.json", timeout=2)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"palletizer-all did not start: {(data.parent / log.name).read_text()}")
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
