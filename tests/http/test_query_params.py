"""Every query parameter of every route is checked (a 400 in Cargo's error JSON otherwise), and no log
line of the server ever carries a query string or a header value, not even for an unexpected error."""

from urllib.parse import urlsplit

import pytest
import requests

from tests.support.http import Live, assert_error

DIGITS = "9" * 5000
SECRET_QUERY = "query-secret-5c1e"
SECRET_HEADER = "header-secret-9f3a"

BAD = [
    f"/?page={DIGITS}", "/?page=-1", "/?page=0", "/?page=abc", "/?page=1.5", "/?page=%D9%A3", "/?page=1&page=2",
    f"/?q={'x' * 257}", "/?q=%FF", "/?q=a&q=b", "/?q=a%00b",
    f"/api/v1/crates?q=a&per_page={DIGITS}", "/api/v1/crates?q=a&per_page=-5", "/api/v1/crates?q=a&per_page=",
    "/api/v1/crates?q=a&per_page=1&per_page=2", "/api/v1/crates?q=%C3%28", f"/api/v1/crates?q={'y' * 300}",
    "/api/v1/crates?q=a&q=b",
    "/git/index/info/refs?service=git-upload-pack&service=git-upload-pack", "/git/index/info/refs?service=%FF",
]


def server_log(live: Live) -> str:
    port = urlsplit(live.url).port
    return (live.data.parent / f"palletizer-all-{port}.log").read_text(errors="replace")


@pytest.mark.parametrize("path", BAD)
def test_a_bad_query_parameter_is_400_in_cargo_json(live: Live, path: str) -> None:
    assert_error(live.raw_get(path), 400)


def test_raw_bytes_that_are_not_utf8_are_400(live: Live) -> None:
    for path in (b"/?q=\xff", b"/api/v1/crates?q=\xc3("):
        assert_error(live.raw_get(path), 400)


@pytest.mark.parametrize("path", ["/?page=1", "/?page=999999999", "/?q=%C3%A9t%C3%A9", "/?q=", "/?q",
                                  f"/?q={'x' * 256}", "/api/v1/crates?q=a&per_page=100000"])
def test_good_query_parameters_are_answered(live: Live, path: str) -> None:
    assert live.get(path).status_code == 200


def test_the_details_say_what_is_wrong(live: Live) -> None:
    assert "`page` must be a whole number from 1 to" in assert_error(live.get(f"/?page={DIGITS}"), 400)
    assert "`q` is given 2 times" in assert_error(live.get("/?q=a&q=b"), 400)
    assert "at most 256" in assert_error(live.get(f"/api/v1/crates?q={'y' * 300}"), 400)
    assert "not UTF-8" in assert_error(live.get("/?q=%FF"), 400)


def test_no_log_line_carries_a_query_string_or_a_header(live: Live) -> None:
    headers = {"X-Probe": SECRET_HEADER, "Authorization": live.token, "User-Agent": SECRET_HEADER}
    for path in BAD:
        requests.get(live.url + path + f"&probe={SECRET_QUERY}", headers=headers, timeout=10)
    # reverse dependencies read every summary: a broken one makes an unexpected error
    crate = live.unique("depended-on")
    live.publish(crate)
    broken = live.data / "names" / "zz-broken.json"
    broken.write_text("{ not json")
    try:
        response = requests.get(f"{live.url}/api/v1/crates/{crate}/reverse_dependencies",
                                params={"q": SECRET_QUERY}, headers=headers, timeout=10)
    finally:
        broken.unlink()
    log = server_log(live)
    for secret in (SECRET_QUERY, SECRET_HEADER, live.token, DIGITS[:100]):
        assert secret not in log
    assert f"unexpected error answering GET /api/v1/crates/{crate}/reverse_dependencies" in log
    assert "Traceback" in log
    assert "JSONDecodeError (message not logged)" in log
    assert response.status_code == 500 and "log" in assert_error(response, 500)
