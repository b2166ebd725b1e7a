"""Query strings on the wire, on a real server: bytes that are not UTF-8 are refused, and no log line of the
server ever carries a query string or a header value, not even for an unexpected error. (Each parameter's
checks: tests/services/test_query_params.py.)"""

import sqlite3
from urllib.parse import urlsplit

import requests

from palletizer_lib.domain.names import normalise
from tests.support.bad_queries import BAD, DIGITS
from tests.support.cratekit import dep
from tests.support.http import Live, assert_error

SECRET_QUERY = "query-secret-5c1e"
SECRET_HEADER = "header-secret-9f3a"


def server_log(live: Live) -> str:
    port = urlsplit(live.url).port
    return (live.data.parent / f"palletizer-all-{port}.log").read_text(errors="replace")


def test_raw_bytes_that_are_not_utf8_are_400(live: Live) -> None:
    for path in (b"/?q=\xff", b"/api/v1/crates?q=\xc3("):
        assert_error(live.raw_get(path), 400)


def test_no_log_line_carries_a_query_string_or_a_header(live: Live) -> None:
    headers = {"X-Probe": SECRET_HEADER, "Authorization": live.token, "User-Agent": SECRET_HEADER}
    for path in BAD:
        requests.get(live.url + path + f"&probe={SECRET_QUERY}", headers=headers, timeout=10)
    # reverse dependencies read their table: a broken row makes an unexpected error
    crate = live.unique("depended-on")
    live.publish(crate)
    live.publish(live.unique("depending"), deps=[dep(crate, "^1")])
    with sqlite3.connect(live.data / "catalog.sqlite3") as db:
        db.execute("UPDATE reverse_dependencies SET version = '{ not json' WHERE dependency = ?", (normalise(crate),))
    response = requests.get(
        f"{live.url}/api/v1/crates/{crate}/reverse_dependencies",
        params={"q": SECRET_QUERY},
        headers=headers,
        timeout=10,
    )
    log = server_log(live)
    for secret in (SECRET_QUERY, SECRET_HEADER, live.token, DIGITS[:100]):
        assert secret not in log
    assert f"unexpected error answering GET /api/v1/crates/{crate}/reverse_dependencies" in log
    assert "Traceback" in log
    assert "JSONDecodeError (message not logged)" in log
    assert response.status_code == 500 and "log" in assert_error(response, 500)
