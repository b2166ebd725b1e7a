"""The index over git's smart HTTP protocol (read-only), with dulwich's upload-pack.

`index = "http://HOST:PORT/git/index"` in cargo's config; both cargo's built-in git
and `net.git-fetch-with-cli = true` fetch from it.
"""

import contextlib
import gzip
import io
import re
import tempfile
import time
import zlib
from collections.abc import Callable
from typing import ParamSpec, Protocol, TypeVar

import falcon
from dulwich.errors import GitProtocolError
from dulwich.protocol import ReceivableProtocol, pkt_line
from dulwich.repo import Repo
from dulwich.server import BackendRepo, DictBackend, UploadPackHandler

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import BadRequest, Forbidden, PayloadTooLarge, UnsupportedMediaType
from palletizer_lib.domain.urls import GIT_INDEX_PATH
from palletizer_services.bodies import BodyRoute, small_body
from palletizer_services.params import query_text
from palletizer_services.read_access import NeedsRead

UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
READ_ONLY = "the git index is read-only: crates are published with `cargo publish` (or `palletizer add`), never pushed"
_SPOOL_IN_MEMORY = 1024 * 1024
# The bounds of one upload-pack request, a round of git's stateless negotiation. An honest round is a `want`
# per ref fetched, then `have`s, about 50 bytes each: git sends at most 8192 new ones a round until it has sent
# 81920, then a tenth of those sent (libgit2 gives up after 256), plus again those found common. dulwich reads
# and parses an object for every `want` and `have` line it knows, so beyond these its work is refused first.
MAX_NEGOTIATION_BYTES = 1024 * 1024  # the body, plain or once inflated from gzip
MAX_PKT_LINES = 25_000
MAX_WANTS = 256
MAX_HAVES = 20_000
MAX_SHALLOWS = 1024
# Reading, negotiating and building the pack of one request (a full clone of 100,000 objects takes ~12 s).
REQUEST_SECONDS = 60.0

_READ_CHUNK = 64 * 1024
_PKT_LENGTH = re.compile(rb"[0-9a-fA-F]{4}")
_OBJECT_ID = re.compile(rb"[0-9a-f]{40}")
_COUNTED = {b"want": MAX_WANTS, b"have": MAX_HAVES, b"shallow": MAX_SHALLOWS}
_FRESH_COPY = (
    "; a fetch into a copy of the index that shares no history with this registry sends that many: "
    "delete that copy (for cargo, `~/.cargo/registry/index/NAME-*`) and fetch again"
)


def request_body_limit(registry: Registry) -> int:
    """The largest upload-pack request body accepted (as sent, before any gzip is inflated)."""
    return MAX_NEGOTIATION_BYTES


# upload-pack takes a body; receive-pack's (a push) is answered, read-only, by the app.
BODIES = (
    BodyRoute("POST", f"{GIT_INDEX_PATH}/{UPLOAD_PACK}", request_body_limit),
    BodyRoute("POST", f"{GIT_INDEX_PATH}/{RECEIVE_PACK}", small_body),
)


class Deadline:
    """A wall-clock limit on one request's work, checked between its steps (no thread is ever killed)."""

    def __init__(self, seconds: float = REQUEST_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def check(self) -> None:
        """Raise `BadRequest` once the time is up."""
        if self._clock() > self._end:
            raise BadRequest(
                f"the git upload-pack request took more than {self.seconds:g} s and was stopped "
                "(the sparse index, `sparse+URL/index/`, serves a large index faster)"
            )


class Readable(Protocol):
    """A binary stream to read from (a request's body, a gzip file)."""

    def read(self, size: int = -1, /) -> bytes:
        """At most `size` bytes (all that is left if negative); none at the end."""


class _Limited(io.RawIOBase):
    """A reader refusing more than MAX_NEGOTIATION_BYTES from the request body as sent."""

    def __init__(self, stream: Readable) -> None:
        super().__init__()
        self._stream = stream
        self._left = MAX_NEGOTIATION_BYTES

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(self._left + 1 if size < 0 else min(size, self._left + 1))
        self._left -= len(data)
        if self._left < 0:
            raise PayloadTooLarge(f"the git upload-pack request body is larger than {MAX_NEGOTIATION_BYTES} bytes")
        return data


def read_request(body: Readable, gzipped: bool, deadline: Deadline) -> bytes:
    """The request body, inflated if `gzipped`; `PayloadTooLarge` beyond MAX_NEGOTIATION_BYTES either way."""
    limited = _Limited(body)
    stream: Readable = gzip.GzipFile(fileobj=limited, mode="rb") if gzipped else limited
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := stream.read(_READ_CHUNK):
            size += len(chunk)
            if size > MAX_NEGOTIATION_BYTES:
                raise PayloadTooLarge(
                    f"the git upload-pack request is larger than {MAX_NEGOTIATION_BYTES} bytes"
                    f"{' once inflated' if gzipped else ''}; an honest negotiation is far smaller"
                )
            chunks.append(chunk)
            deadline.check()
    except (OSError, EOFError, zlib.error) as exc:
        raise BadRequest(f"the git upload-pack request is not valid gzip: {exc}") from exc
    return b"".join(chunks)


def bounded_request(data: bytes, deadline: Deadline) -> bytes:
    """`data` with repeated `want`, `have` and `shallow` lines dropped (they only repeat dulwich's work); a
    `BadRequest` if its pkt-lines are malformed, or more than one negotiation round needs."""
    counts = dict.fromkeys(_COUNTED, 0)
    seen: set[bytes] = set()
    kept: list[bytes] = []
    position = lines = 0
    while position < len(data):
        lines += 1
        if lines > MAX_PKT_LINES:
            raise BadRequest(f"the git upload-pack request has more than {MAX_PKT_LINES} pkt-lines")
        if lines % 1024 == 0:
            deadline.check()
        head = data[position : position + 4]
        if not _PKT_LENGTH.fullmatch(head):
            raise BadRequest(f"invalid git upload-pack request: bad pkt-line length {head!r} at byte {position}")
        length = int(head, 16)
        size = max(length, 4)  # 0000, 0001 and 0002 are the special packets of four bytes
        if length == 3 or position + size > len(data):
            raise BadRequest(f"invalid git upload-pack request: the pkt-line at byte {position} is cut short")
        line = data[position : position + size]
        position += size
        command, _, argument = line[4:].rstrip(b"\n").partition(b" ")
        limit = _COUNTED.get(command)
        if limit is not None:
            object_id = argument[:40]
            if not _OBJECT_ID.fullmatch(object_id) or argument[40:41] not in (b"", b" "):
                raise BadRequest(
                    f"invalid git upload-pack request: `{command.decode()}` needs an object id, not {argument[:60]!r}"
                )
            counts[command] += 1
            if counts[command] > limit:
                raise BadRequest(
                    f"the git upload-pack request has more than {limit} `{command.decode()}` lines, "
                    f"the most this registry takes in one request"
                    f"{_FRESH_COPY if command == b'have' else ''}"
                )
            key = command + b" " + object_id
            if key in seen:
                continue
            seen.add(key)
        kept.append(line)
    return b"".join(kept)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _checking(deadline: Deadline, method: Callable[_P, _R]) -> Callable[_P, _R]:
    """`method`, checking `deadline` before each call."""

    def checked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        deadline.check()
        return method(*args, **kwargs)

    return checked


def upload_pack(
    git_dir: str, request: bytes, advertise_refs: bool, deadline: Deadline
) -> tempfile.SpooledTemporaryFile[bytes]:
    """Answer one stateless upload-pack exchange of `request` (bounded by `bounded_request`) before
    `deadline`; the reply is spooled, not held whole in memory."""
    source = io.BytesIO(request)
    with contextlib.ExitStack() as on_failure:
        out = on_failure.enter_context(tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY))

        def recv(size: int) -> bytes:
            deadline.check()
            return source.read(size)

        def send(data: bytes) -> None:
            deadline.check()
            out.write(data)

        if advertise_refs:
            out.write(pkt_line(f"# service={UPLOAD_PACK}\n".encode()) + pkt_line(None))
        with Repo(git_dir) as repo:
            # Every object dulwich reads goes through get_raw: the deadline is checked while it walks.
            repo.object_store.get_raw = _checking(deadline, repo.object_store.get_raw)  # type: ignore[method-assign]
            repos: dict[str, BackendRepo] = {"/": repo}
            handler = UploadPackHandler(
                DictBackend(repos),
                ["/"],
                ReceivableProtocol(recv, send),
                stateless_rpc=True,
                advertise_refs=advertise_refs,
            )
            try:
                handler.handle()
            except (GitProtocolError, OSError, EOFError) as exc:
                raise BadRequest(f"invalid git upload-pack request: {exc}") from exc
        out.seek(0)
        on_failure.pop_all()
    return out


def _no_cache(resp: falcon.Response) -> None:
    resp.set_header("Cache-Control", "no-cache, max-age=0, must-revalidate")
    resp.set_header("Pragma", "no-cache")


class _GitResource(NeedsRead):
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._git_dir = str(registry.layout.git)


class InfoRefsResource(_GitResource):
    """`GET /git/index/info/refs?service=git-upload-pack`: the ref advertisement."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = query_text(req, "service")
        if service == RECEIVE_PACK:
            raise Forbidden(READ_ONLY)
        if service != UPLOAD_PACK:
            raise Forbidden("only git's smart HTTP protocol (git-upload-pack) is served")
        self._registry.served_git()
        _no_cache(resp)
        resp.content_type = f"application/x-{UPLOAD_PACK}-advertisement"
        resp.stream = upload_pack(self._git_dir, b"", advertise_refs=True, deadline=Deadline())


class UploadPackResource(_GitResource):
    """`POST /git/index/git-upload-pack`: negotiation and the pack."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.content_type != f"application/x-{UPLOAD_PACK}-request":
            raise UnsupportedMediaType(f"expected application/x-{UPLOAD_PACK}-request")
        deadline = Deadline()
        gzipped = (req.get_header("Content-Encoding") or "").lower() == "gzip"
        request = read_request(req.bounded_stream, gzipped, deadline)
        request = bounded_request(request, deadline)
        _no_cache(resp)
        resp.content_type = f"application/x-{UPLOAD_PACK}-result"
        resp.stream = upload_pack(self._git_dir, request, advertise_refs=False, deadline=deadline)


class ReceivePackResource(NeedsRead):
    """`POST /git/index/git-receive-pack`: refused, the index is written only by the registry."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise Forbidden(READ_ONLY)


def add_routes(app: falcon.App[falcon.Request, falcon.Response], registry: Registry) -> None:
    """Mount the git index at `/git/index`."""
    app.add_route(f"{GIT_INDEX_PATH}/info/refs", InfoRefsResource(registry))
    app.add_route(f"{GIT_INDEX_PATH}/{UPLOAD_PACK}", UploadPackResource(registry))
    app.add_route(f"{GIT_INDEX_PATH}/{RECEIVE_PACK}", ReceivePackResource())
