"""`palletizer-all --workers 2` against real sockets: both worker processes answer (each access log line
carries the pid of the process that wrote it), a publish through either is seen by every index GET at once,
TLS works, a killed worker is replaced, and SIGTERM drains every worker before the parent exits 0.

Which worker takes a connection is the kernel's choice: the tests send requests (each on a new connection)
until the condition holds, bounded by a count, never by a time."""

import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.settings.config import RegistryConfig
from tests.http.test_shutdown import started_publish, wait_until_refusing
from tests.support.cli import run_cli
from tests.support.http import read_response
from tests.support.listening import get_request, over_tls, palletizer_all, write_config
from tests.support.publishing import publish_over_http
from tests.support.server import BIN, free_port, issue_token, running_process
from tests.support.tls import CertificateAuthority

ATTEMPTS = 400
STARTED = re.compile(r"\[(\d+)\] palletizer\.workers INFO worker (\d+) started \(pid (\d+)\)")
ACCESS = re.compile(r"\[(\d+)\] palletizer\.access INFO method=(\S+) path=(\S+) .*status=(\d+)")


class Workers:
    """A running `palletizer-all --workers 2`: its process, port, log and an admin token."""

    def __init__(self, process: subprocess.Popen, port: int, log: Path, token: str, data: Path) -> None:
        self.process, self.port, self.log, self.token, self.data = process, port, log, token, data
        self.url = f"http://127.0.0.1:{port}"

    def started(self) -> list[int]:
        """The pid of every worker started so far, in order."""
        return [int(m[3]) for m in STARTED.finditer(self.log.read_text())]

    def until_both_started(self) -> None:
        """Return once the parent has logged both workers' start (it logs each right after forking it)."""
        for _ in range(ATTEMPTS):
            if len(self.started()) == 2:
                return
            fresh_get(f"{self.url}/health")
        raise AssertionError(f"the workers did not both start: {self.log.read_text()}")

    def answered_by(self, path: str) -> list[int]:
        """The pid of the process behind each access log line for `path` so far, in order."""
        return [int(m[1]) for m in ACCESS.finditer(self.log.read_text()) if m[3] == path]

    def until_served_by(self, pids: set[int], path: str, get: Callable[[], None]) -> None:
        """`get()` (a request for `path`) again until each of `pids` has answered one, since now."""
        already = len(self.answered_by(path))
        for _ in range(ATTEMPTS):
            get()
            if pids <= set(self.answered_by(path)[already:]):
                return
        raise AssertionError(f"{path} not answered by each of {pids}: {self.answered_by(path)[already:]}")

    def publish(self, name: str, version: str) -> None:
        publish_over_http(self.url, self.token, name, version, headers={"Connection": "close"})


@contextmanager
def workers(tmp_path: Path) -> Iterator[Workers]:
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    token = issue_token(data)
    port = free_port()
    log = tmp_path / "log"
    command = [str(BIN / "palletizer-all"), "--data", str(data), "--listen", f"127.0.0.1:{port}", "--workers", "2"]
    with running_process(command, f"http://127.0.0.1:{port}/health", log) as process:
        served = Workers(process, port, log, token, data)
        served.until_both_started()
        yield served


def fresh_get(url: str) -> requests.Response:
    """A GET on a connection of its own (so that any worker may take it)."""
    answer = requests.get(url, headers={"Connection": "close"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer


def test_both_workers_answer_requests(tmp_path: Path) -> None:
    with workers(tmp_path) as served:
        pids = set(served.started())
        assert len(pids) == 2 and served.process.pid not in pids
        parent_files = [os.readlink(fd) for fd in Path(f"/proc/{served.process.pid}/fd").iterdir()]
        assert not [name for name in parent_files if ".sqlite3" in name], "a database connection crossed the fork"
        served.until_served_by(pids, "/health", lambda: fresh_get(f"{served.url}/health"))


def test_a_publish_through_one_worker_is_seen_at_once_by_every_worker(tmp_path: Path) -> None:
    with workers(tmp_path) as served:
        pids = set(served.started())
        served.publish("shared", "1.0.0")
        path = f"/index/{index_path('shared')}"
        served.until_served_by(pids, path, lambda: fresh_get(served.url + path))
        for version in ("1.1.0", "1.2.0"):
            served.publish("shared", version)

            def seen(version: str = version) -> None:
                assert f'"vers":"{version}"' in fresh_get(served.url + path).text

            served.until_served_by(pids, path, seen)


def test_a_tls_listener_is_served_by_every_worker(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path / "ca", "Palletizer test CA")
    cert = ca.issue("server")
    tls_port, plain_port = free_port(), free_port()
    config = write_config(
        tmp_path / "server.yaml",
        [
            {"address": f"127.0.0.1:{tls_port}", "tls": {"certificate": str(cert.certificate), "key": str(cert.key)}},
            {"address": f"127.0.0.1:{plain_port}"},
        ],
    )
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    log = tmp_path / "log"
    command = [*palletizer_all(data, config), "--workers", "2"]
    with running_process(command, f"http://127.0.0.1:{plain_port}/health", log) as process:
        served = Workers(process, plain_port, log, "", data)
        served.until_both_started()
        pids = set(served.started())
        assert len(pids) == 2

        def over_https() -> None:
            answer = over_tls(tls_port, ca.pem, get_request("/index/config.json"))
            assert answer.status == 200 and f"https://127.0.0.1:{tls_port}" in answer.body.decode()

        served.until_served_by(pids, "/index/config.json", over_https)


def test_a_killed_worker_is_replaced_and_the_server_keeps_answering(tmp_path: Path) -> None:
    with workers(tmp_path) as served:
        first, second = served.started()
        os.kill(first, signal.SIGKILL)
        for _ in range(ATTEMPTS):
            fresh_get(f"{served.url}/health")
            if len(served.started()) == 3:
                break
        replacement = served.started()[2]
        assert replacement not in (first, second)
        assert f"(pid {first}) was killed by signal 9; starting another" in served.log.read_text()
        served.until_served_by({second, replacement}, "/health", lambda: fresh_get(f"{served.url}/health"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_drains_every_worker_and_the_parent_exits_0(tmp_path: Path, signum: int) -> None:
    names = [f"inflight{n}" for n in range(4)]
    with workers(tmp_path) as served:
        pids = served.started()
        started = [started_publish(served.port, served.token, name) for name in names]
        served.process.send_signal(signum)
        wait_until_refusing(served.port)
        statuses = []
        for sock, rest in started:
            with sock:
                sock.sendall(rest)
                statuses.append(read_response(sock).status)
        assert statuses == [200] * len(names)
        assert served.process.wait(timeout=60) == 0
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    run_cli(served.data, "verify")
    listed = run_cli(served.data, "list").out
    assert all(name in listed for name in names)
    assert "all workers stopped" in served.log.read_text()
