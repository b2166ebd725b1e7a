"""The index over git's smart HTTP protocol (read-only), with dulwich's upload-pack.

`index = "http://HOST:PORT/git/index"` in cargo's config; both cargo's built-in git
and `net.git-fetch-with-cli = true` fetch from it.
"""

import gzip
import tempfile
from typing import BinaryIO

import falcon
from dulwich.errors import GitProtocolError
from dulwich.protocol import ReceivableProtocol, pkt_line
from dulwich.repo import Repo
from dulwich.server import DictBackend, UploadPackHandler

from palletizer_lib.errors import BadRequest, Forbidden
from palletizer_lib.registry import Registry
from services.params import query_text

UPLOAD_PACK = "git-upload-pack"
RECEIVE_PACK = "git-receive-pack"
READ_ONLY = ("the git index is read-only: crates are published with `cargo publish` "
             "(or `palletizer add`), never pushed")
_SPOOL_IN_MEMORY = 1024 * 1024


def _no_cache(resp: falcon.Response) -> None:
    resp.set_header("Cache-Control", "no-cache, max-age=0, must-revalidate")
    resp.set_header("Pragma", "no-cache")


class _GitResource:
    def __init__(self, registry: Registry) -> None:
        self._git_dir = str(registry.layout.git)

    def _run_upload_pack(self, body: BinaryIO, advertise_refs: bool) -> tempfile.SpooledTemporaryFile:
        """Answer one stateless upload-pack exchange; the reply is spooled, not held whole in memory."""
        out = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
        if advertise_refs:
            out.write(pkt_line(f"# service={UPLOAD_PACK}\n".encode()) + pkt_line(None))
        with Repo(self._git_dir) as repo:
            backend = DictBackend({b"/": repo})
            proto = ReceivableProtocol(body.read, out.write)
            handler = UploadPackHandler(backend, [b"/"], proto, stateless_rpc=True, advertise_refs=advertise_refs)
            try:
                handler.handle()
            except (GitProtocolError, OSError, EOFError) as exc:
                out.close()
                raise BadRequest(f"invalid git upload-pack request: {exc}") from exc
        out.seek(0)
        return out


class InfoRefsResource(_GitResource):
    """`GET /git/index/info/refs?service=git-upload-pack`: the ref advertisement."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        service = query_text(req, "service")
        if service == RECEIVE_PACK:
            raise Forbidden(READ_ONLY)
        if service != UPLOAD_PACK:
            raise falcon.HTTPForbidden(description="only git's smart HTTP protocol (git-upload-pack) is served")
        _no_cache(resp)
        resp.content_type = f"application/x-{UPLOAD_PACK}-advertisement"
        resp.stream = self._run_upload_pack(_EmptyBody(), advertise_refs=True)


class UploadPackResource(_GitResource):
    """`POST /git/index/git-upload-pack`: negotiation and the pack."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.content_type != f"application/x-{UPLOAD_PACK}-request":
            raise falcon.HTTPUnsupportedMediaType(description=f"expected application/x-{UPLOAD_PACK}-request")
        body: BinaryIO = req.bounded_stream
        if (req.get_header("Content-Encoding") or "").lower() == "gzip":
            body = gzip.GzipFile(fileobj=body, mode="rb")
        _no_cache(resp)
        resp.content_type = f"application/x-{UPLOAD_PACK}-result"
        resp.stream = self._run_upload_pack(body, advertise_refs=False)


class ReceivePackResource:
    """`POST /git/index/git-receive-pack`: refused, the index is written only by the registry."""

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise Forbidden(READ_ONLY)


class _EmptyBody:
    @staticmethod
    def read(size: int = -1) -> bytes:
        return b""


def add_routes(app: falcon.App, registry: Registry) -> None:
    """Mount the git index at `/git/index`."""
    app.add_route("/git/index/info/refs", InfoRefsResource(registry))
    app.add_route(f"/git/index/{UPLOAD_PACK}", UploadPackResource(registry))
    app.add_route(f"/git/index/{RECEIVE_PACK}", ReceivePackResource())
