"""The index service answers from memory: changes made by other processes (the CLI, another service) must show
on the very next request, with ETags and 304s that follow them."""

import http.client
import json
from urllib.parse import urlsplit

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.domain.urls import ServedUrls
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate
from tests.support.http import Live


def yanked(live: Live, name: str) -> list[bool]:
    answer = live.get(f"/index/{index_path(name)}")
    assert answer.status_code == 200
    return [json.loads(line)["yanked"] for line in answer.text.splitlines()]


def test_a_yank_by_the_cli_is_served_at_once(live: Live) -> None:
    name = live.unique("cache-cli")
    live.publish(name)
    path = f"/index/{index_path(name)}"
    etag = live.get(path).headers["ETag"]
    assert live.get(path, headers={"If-None-Match": etag}).status_code == 304

    run_cli(live.data, "yank", name, "1.0.0")
    stale = live.get(path, headers={"If-None-Match": etag})
    assert stale.status_code == 200
    assert [json.loads(line)["yanked"] for line in stale.text.splitlines()] == [True]
    fresh = stale.headers["ETag"]
    assert fresh != etag
    assert live.get(path, headers={"If-None-Match": fresh}).status_code == 304

    run_cli(live.data, "unyank", name, "1.0.0")
    assert yanked(live, name) == [False]
    assert live.get(path, headers={"If-None-Match": fresh}).status_code == 200


def test_a_crate_added_by_the_cli_stops_being_404(live: Live, tmp_path) -> None:
    name = live.unique("cache-add")
    path = f"/index/{index_path(name)}"
    assert live.get(path).status_code == 404
    assert live.get(path).status_code == 404
    crate = tmp_path / f"{name}-0.1.0.crate"
    crate.write_bytes(make_crate(name, "0.1.0"))
    run_cli(live.data, "add", str(crate))
    assert yanked(live, name) == [False]
    run_cli(live.data, "remove", name, "0.1.0")
    assert live.get(path).status_code == 404


def test_rapid_changes_through_the_api_are_each_seen(live: Live) -> None:
    name = live.unique("cache-api")
    live.publish(name)
    for round_ in range(3):
        assert live.yank(name, "1.0.0").status_code == 200
        assert yanked(live, name) == [True], round_
        assert live.unyank(name, "1.0.0").status_code == 200
        assert yanked(live, name) == [False], round_


def test_config_json_changed_by_another_process_is_served_at_once(live: Live) -> None:
    before = live.get("/index/config.json")
    etag = before.headers["ETag"]
    registry = Registry(live.data)
    moved = ServedUrls("http://moved.test", "http://moved.test", "http://moved.test")
    original = ServedUrls(live.url, live.url, live.url)
    try:
        registry.set_urls(moved)
        changed = live.get("/index/config.json", headers={"If-None-Match": etag})
        assert changed.status_code == 200
        assert changed.json()["api"] == "http://moved.test"
    finally:
        registry.set_urls(original)
    assert live.get("/index/config.json").json() == before.json()


def test_a_304_keeps_the_connection_open(live: Live) -> None:
    """waitress alone closes the connection after any answer without a body; cargo revalidates every cached
    index file, so each 304 would cost a new connection."""
    name = live.unique("cache-keep")
    live.publish(name)
    path = f"/index/{index_path(name)}"
    etag = live.get(path).headers["ETag"]
    parts = urlsplit(live.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        for _ in range(3):
            connection.request("GET", path, headers={"If-None-Match": etag})
            answer = connection.getresponse()
            assert answer.status == 304 and answer.read() == b""
            assert not answer.will_close
        connection.request("GET", path, headers={"If-None-Match": etag, "Connection": "close"})
        closing = connection.getresponse()
        assert closing.status == 304 and closing.will_close
    finally:
        connection.close()
