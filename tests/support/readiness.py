"""Waiting for a server a test (or a benchmark) started: one probe after another until one deadline. A probe
that cannot connect or times out is tried again; only the deadline, or the server's exit, ends the wait."""

import socket
import time
from collections.abc import Callable

import requests

READY_SECONDS = 60.0
PROBE_SECONDS = 5.0
RETRY_SECONDS = 0.02  # between probes: a refused connection costs next to nothing


class NotYetHealthy(Exception):
    """A probe's answer was not 200 (yet)."""


class NotReady(Exception):
    """The server exited, or did not answer within the deadline."""


RETRIED = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError, NotYetHealthy)


def wait_until_ready(
    probe: Callable[[], object], alive: Callable[[], bool] = lambda: True, seconds: float = READY_SECONDS
) -> None:
    """Call `probe` until it returns; a connection error, a time-out or an answer other than 200 (NotYetHealthy)
    is a retry while `alive()` and until `seconds` have passed (NotReady then, naming the last error)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            probe()
            return
        except RETRIED as error:
            if not alive():
                raise NotReady(f"exited before it was ready ({error})") from None
            if time.monotonic() > deadline:
                raise NotReady(f"not ready within {seconds:g} s ({error})") from None
        time.sleep(RETRY_SECONDS)


def http_answers(url: str) -> Callable[[], object]:
    """A probe: a GET of `url` answered with any status."""
    return lambda: requests.get(url, timeout=PROBE_SECONDS)


def http_healthy(url: str) -> Callable[[], object]:
    """A probe: a GET of `url` answered with 200."""

    def probe() -> None:
        status = requests.get(url, timeout=PROBE_SECONDS).status_code
        if status != 200:
            raise NotYetHealthy(f"{url} answered {status}")

    return probe


def port_accepts(port: int) -> Callable[[], object]:
    """A probe: a TCP connection to 127.0.0.1:`port` accepted."""
    return lambda: socket.create_connection(("127.0.0.1", port), timeout=PROBE_SECONDS).close()
