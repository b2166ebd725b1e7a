"""The git upload-pack endpoint bounds each request before dulwich works on it: its size (plain or inflated
from gzip), its pkt-lines, `want`s, `have`s and `shallow`s; honest fetches, large ones included, still work."""

import gzip
import hashlib
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from dulwich.protocol import pkt_line

from palletizer_services.index.git import MAX_HAVES, MAX_NEGOTIATION_BYTES, MAX_PKT_LINES, MAX_SHALLOWS, MAX_WANTS
from tests.support.http import Live, assert_error

UPLOAD_REQUEST = "application/x-git-upload-pack-request"
CAPABILITIES = b" multi_ack_detailed side-band-64k thin-pack ofs-delta"
SAFETY_TIMEOUT = 120


def _head(live: Live) -> bytes:
    return live.data.joinpath("index.git", "refs", "heads", "main").read_bytes().strip()


def _fake_ids(count: int, salt: str = "") -> list[bytes]:
    """`count` distinct object ids the registry has never seen."""
    return [hashlib.sha1(f"{salt}{i}".encode()).hexdigest().encode() for i in range(count)]


def _negotiation(live: Live, haves: list[bytes], done: bool = True) -> bytes:
    body = pkt_line(b"want " + _head(live) + CAPABILITIES + b"\n") + pkt_line(None)
    body += b"".join(pkt_line(b"have " + have + b"\n") for have in haves)
    return body + (pkt_line(b"done\n") if done else pkt_line(None))


def _post(live: Live, body: bytes | Iterator[bytes], compress: bool = False) -> requests.Response:
    headers = {"Content-Type": UPLOAD_REQUEST}
    if compress:
        assert isinstance(body, bytes)
        body = gzip.compress(body, compresslevel=9, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return requests.post(f"{live.url}/git/index/git-upload-pack", data=body, headers=headers, timeout=SAFETY_TIMEOUT)


def _bomb(live: Live) -> bytes:
    """About 60 KB of gzip that inflates to 20 MB of `have` lines naming the head (each costs dulwich an
    object read), the request that once kept a worker busy for half a minute."""
    return _negotiation(live, [_head(live)] * 400_000)


@pytest.mark.parametrize("kind", ["haves", "wants", "zeros"])
def test_a_small_gzip_body_inflating_past_the_limit_is_refused(live: Live, kind: str) -> None:
    if kind == "haves":
        body = _bomb(live)
    elif kind == "wants":
        body = (
            pkt_line(b"want " + _head(live) + CAPABILITIES + b"\n") + pkt_line(b"want " + _head(live) + b"\n") * 400_000
        )
    else:
        body = b"\0" * (64 * 1024 * 1024)
    assert len(gzip.compress(body, compresslevel=9, mtime=0)) < 100_000
    detail = assert_error(_post(live, body, compress=True), 413)
    assert f"larger than {MAX_NEGOTIATION_BYTES} bytes once inflated" in detail


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_plain_body_past_the_limit_is_refused(live: Live, chunked: bool) -> None:
    body = _negotiation(live, _fake_ids(MAX_NEGOTIATION_BYTES // 50 + 1000))
    assert MAX_NEGOTIATION_BYTES < len(body) < 2 * MAX_NEGOTIATION_BYTES
    data = iter([body[i : i + 65536] for i in range(0, len(body), 65536)]) if chunked else body
    detail = assert_error(_post(live, data), 413)
    assert str(MAX_NEGOTIATION_BYTES) in detail


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_too_many_haves_are_refused_with_what_to_do(live: Live, compress: bool) -> None:
    body = _negotiation(live, _fake_ids(MAX_HAVES + 1))
    assert len(body) <= MAX_NEGOTIATION_BYTES
    detail = assert_error(_post(live, body, compress), 400)
    assert f"more than {MAX_HAVES} `have` lines" in detail
    assert "~/.cargo/registry/index" in detail


def test_too_many_wants_are_refused(live: Live) -> None:
    want = pkt_line(b"want " + _head(live) + b"\n")
    body = pkt_line(b"want " + _head(live) + CAPABILITIES + b"\n") + want * MAX_WANTS + pkt_line(None)
    detail = assert_error(_post(live, body, compress=True), 400)
    assert f"more than {MAX_WANTS} `want` lines" in detail


def test_too_many_shallow_lines_are_refused(live: Live) -> None:
    body = pkt_line(b"want " + _head(live) + CAPABILITIES + b" shallow\n")
    body += b"".join(pkt_line(b"shallow " + sha + b"\n") for sha in _fake_ids(MAX_SHALLOWS + 1, "shallow"))
    body += pkt_line(b"deepen 1\n") + pkt_line(None) + pkt_line(b"done\n")
    detail = assert_error(_post(live, body, compress=True), 400)
    assert f"more than {MAX_SHALLOWS} `shallow` lines" in detail


def test_too_many_pkt_lines_are_refused(live: Live) -> None:
    body = _negotiation(live, [], done=False) + pkt_line(None) * MAX_PKT_LINES
    assert len(body) <= MAX_NEGOTIATION_BYTES
    detail = assert_error(_post(live, body, compress=True), 400)
    assert f"more than {MAX_PKT_LINES} pkt-lines" in detail


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"zzzzwant", "bad pkt-line length"),
        (b"0x10want 1234567", "bad pkt-line length"),
        (b"0003", "cut short"),
        (b"00ffwant " + b"a" * 40 + b"\n", "cut short"),
        (pkt_line(b"want nothing\n"), "`want` needs an object id"),
        (pkt_line(b"want " + b"a" * 40 + b"x\n"), "`want` needs an object id"),
        (pkt_line(b"want " + b"a" * 40 + b"\n") + pkt_line(None) + pkt_line(b"have zz\n"), "`have` needs an object id"),
    ],
    ids=["not-hex", "hex-prefix", "length-3", "truncated", "no-id", "long-id", "bad-have"],
)
def test_malformed_pkt_lines_are_refused_with_the_reason(live: Live, body: bytes, expected: str) -> None:
    detail = assert_error(_post(live, body), 400)
    assert "invalid git upload-pack request" in detail
    assert expected in detail


def test_a_body_that_is_not_gzip_is_refused(live: Live) -> None:
    response = requests.post(
        f"{live.url}/git/index/git-upload-pack",
        data=b"not gzip at all",
        headers={"Content-Type": UPLOAD_REQUEST, "Content-Encoding": "gzip"},
        timeout=SAFETY_TIMEOUT,
    )
    assert "not valid gzip" in assert_error(response, 400)


def test_repeated_haves_are_answered_once(live: Live) -> None:
    response = _post(live, _negotiation(live, [_head(live)] * (MAX_HAVES - 10)), compress=True)
    assert response.status_code == 200, response.text
    assert response.content.count(b"ACK " + _head(live)) == 2  # `common`, then the final ACK after `done`
    assert b"PACK" in response.content


def test_health_and_config_are_served_while_hostile_requests_come_in(live: Live) -> None:
    bomb = _bomb(live)
    with ThreadPoolExecutor(max_workers=16) as pool:
        hostile = [pool.submit(_post, live, bomb, True) for _ in range(8)]
        hostile += [
            pool.submit(_post, live, _negotiation(live, _fake_ids(MAX_HAVES + 1, str(i))), True) for i in range(4)
        ]
        served = [
            pool.submit(requests.get, live.url + path, timeout=SAFETY_TIMEOUT)
            for _ in range(4)
            for path in ("/health", "/index/config.json")
        ]
        answers = [future.result() for future in hostile]
        assert all(response.status_code == 200 for response in (future.result() for future in served))
    assert [response.status_code for response in answers] == [413] * 8 + [400] * 4
    assert all("errors" in response.json() for response in answers)


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", "-c", "protocol.version=0", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT,
    )


def _local_history(clone: Path, commits: int) -> None:
    """`commits` commits on a local branch of `clone`, newer than anything the registry has, so that git
    offers them all as `have`s before it reaches one the registry knows."""
    stream = []
    for i in range(commits):
        text = f"local {i}\n"
        parent = f"from :{2 * i}\n" if i else "from refs/heads/main^0\n"
        stream.append(
            f"blob\nmark :{2 * i + 1}\ndata {len(text)}\n{text}"
            f"commit refs/heads/local\nmark :{2 * i + 2}\ncommitter t <t@t> {4_000_000_000 + i} +0000\n"
            f"data 5\nlocal\n{parent}M 100644 :{2 * i + 1} local/{i % 64}\n"
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"],
        cwd=clone,
        input="".join(stream).encode(),
        check=True,
        capture_output=True,
        timeout=SAFETY_TIMEOUT,
    )


def test_honest_clones_and_fetches_still_work(live: Live, tmp_path: Path) -> None:
    first = live.unique("gitfirst")
    live.publish(first)
    clone = tmp_path / "clone"
    _git("clone", "-q", f"{live.url}/git/index", str(clone))
    assert (clone / "config.json").is_file()

    second = live.unique("gitsecond")
    live.publish(second)
    _git("pull", "-q", "--ff-only", cwd=clone)
    assert second in _git("log", "--format=%s", "-1", cwd=clone).stdout


def test_a_fetch_offering_the_largest_round_of_haves_git_sends_still_works(live: Live, tmp_path: Path) -> None:
    """git (stateless HTTP) offers `have`s in rounds of 16, 16, 32, ... up to 8192 new ones (a tenth of
    those sent so far beyond 81920); 17000 commits the registry lacks take it through a full round of 8192."""
    clone = tmp_path / "clone"
    _git("clone", "-q", f"{live.url}/git/index", str(clone))
    _local_history(clone, 17_000)
    name = live.unique("gitafterhistory")
    live.publish(name)
    trace = tmp_path / "trace"
    subprocess.run(
        ["git", "-c", "protocol.version=0", "fetch", "-q", "origin"],
        cwd=clone,
        check=True,
        capture_output=True,
        timeout=SAFETY_TIMEOUT,
        env={"GIT_TRACE_PACKET": str(trace), "PATH": "/usr/bin:/bin"},
    )
    assert name in _git("log", "--format=%s", "-1", "origin/main", cwd=clone).stdout
    rounds = trace.read_text().split("fetch-pack> 0000")
    assert max(block.count("fetch-pack> have ") for block in rounds) == 8192
