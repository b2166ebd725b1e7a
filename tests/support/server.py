"""Start the real services (`palletizer-all`, or the three apart) on free loopback ports for a test."""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from palletizer_lib.disk.layout import Layout
from palletizer_lib.stores.accounts import Accounts
from tests.support.readiness import NotReady, http_answers, wait_until_ready

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
STOP_SECONDS = 30.0


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def issue_token(data: Path, user: str = "tester", scopes: tuple[str, ...] = ("admin",)) -> str:
    """A fresh token for `user` (created if missing) on the registry in `data`."""
    accounts = Accounts(Layout(data).accounts)
    if user not in accounts.users():
        accounts.add_user(user)
    return accounts.create_token(user, scopes)[1]


def palletizer(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the `palletizer` CLI on `data`."""
    result = subprocess.run(
        [str(BIN / "palletizer"), "--data", str(data), *args], capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"palletizer {' '.join(args)} failed: {result.stderr}")
    return result


@contextmanager
def running_process(command: list[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen]:
    """Run `command` (from the repository root) until `ready_url` answers; stop it afterwards."""
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ})
        try:
            try:
                wait_until_ready(http_answers(ready_url), lambda: process.poll() is None)
            except NotReady as error:
                raise RuntimeError(f"{command[0]} did not start: {error}\n{log.read_text()}") from None
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen, signum: int = signal.SIGTERM) -> int:
    """Send `signum` to `process` and wait for it (killed after STOP_SECONDS); its exit status."""
    process.send_signal(signum)
    try:
        return process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


@contextmanager
def running_service(program: str, data: Path, *extra: str, port: int | None = None) -> Iterator[str]:
    """Run `program` (palletizer-all, -api, -index or -files) on `data`; yield its base URL (no trailing slash)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / program), "--data", str(data), "--listen", f"127.0.0.1:{port}", *extra]
    with running_process(command, f"{url}/health", data.parent / f"{program}-{port}.log"):
        yield url


@contextmanager
def running_server(data: Path, *extra: str) -> Iterator[str]:
    """Run `palletizer-all` on `data` and yield its base URL (no trailing slash)."""
    with running_service("palletizer-all", data, *extra) as url:
        yield url


@dataclass(frozen=True)
class Split:
    """The three services run apart over one data directory: their base URLs."""

    index: str
    api: str
    files: str


@contextmanager
def running_split(data: Path) -> Iterator[Split]:
    """Run palletizer-api, palletizer-index and palletizer-files on `data`, each on its own port,
    with `config.json` pointing cargo at the api and files services."""
    api_port, index_port, files_port = free_port(), free_port(), free_port()
    urls = Split(f"http://127.0.0.1:{index_port}", f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{files_port}")
    with ExitStack() as services:
        services.enter_context(running_service("palletizer-api", data, port=api_port))
        services.enter_context(running_service("palletizer-files", data, port=files_port))
        services.enter_context(
            running_service("palletizer-index", data, "--api-url", urls.api, "--files-url", urls.files, port=index_port)
        )
        yield urls
