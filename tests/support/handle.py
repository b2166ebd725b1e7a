"""What the HTTP tests do to a registry, whichever way its app is reached: a real server (`Live`) or the
app in process (`InProcess`). A subclass says how one request is sent; the rest is here, once."""

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import EllipsisType
from typing import Any

from palletizer_lib.domain.names import index_path
from palletizer_lib.domain.publish_body import encode_publish_body
from tests.support.cratekit import crate_for, metadata


@dataclass
class Handle:
    """A registry served at `url` over a data directory, and an admin token of user `tester` for it.

    The write helpers (publish, yank, unyank, owners) send that token as cargo does (the raw token
    in `Authorization`); pass `token=None` to send none, or another token to send that instead.
    Keyword arguments beyond those are the transport's own (`data=` for requests, `body=` in process).
    """

    BODY_KEYWORD = "data"

    url: str
    data: Path
    token: str
    _counter: Iterator[int] = field(default_factory=itertools.count)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send `METHOD path` (path from the root, query string allowed) and return the answer."""
        raise NotImplementedError

    def auth(self, token: str | None | EllipsisType = ..., headers: dict[str, str] | None = None) -> dict[str, str]:
        """`headers` plus `Authorization: TOKEN` (this handle's token unless another or None is given)."""
        chosen = self.token if token is ... else token
        return {**({"Authorization": chosen} if chosen is not None else {}), **(headers or {})}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def put_body(
        self, body: bytes, token: str | None | EllipsisType = ..., headers: dict[str, str] | None = None, **kwargs: Any
    ) -> Any:
        """`PUT /api/v1/crates/new` with `body` (a publish body)."""
        return self.request(
            "PUT", "/api/v1/crates/new", headers=self.auth(token, headers), **{self.BODY_KEYWORD: body}, **kwargs
        )

    def yank(self, name: str, version: str, token: str | None | EllipsisType = ...) -> Any:
        return self.request("DELETE", f"/api/v1/crates/{name}/{version}/yank", headers=self.auth(token))

    def unyank(self, name: str, version: str, token: str | None | EllipsisType = ...) -> Any:
        return self.request("PUT", f"/api/v1/crates/{name}/{version}/unyank", headers=self.auth(token))

    def owners(self, method: str, name: str, token: str | None | EllipsisType = ..., **kwargs: Any) -> Any:
        """`METHOD /api/v1/crates/NAME/owners` (pass `json=` for PUT and DELETE)."""
        return self.request(
            method, f"/api/v1/crates/{name}/owners", headers=self.auth(token, kwargs.pop("headers", None)), **kwargs
        )

    def publish(
        self,
        name: str,
        version: str = "1.0.0",
        files: dict[str, bytes] | None = None,
        manifest_extra: str = "",
        **fields: object,
    ) -> bytes:
        """Publish a crate over HTTP, assert success, return the .crate bytes."""
        meta = metadata(name, version, **fields)
        crate = crate_for(meta, manifest_extra, files, index_url=f"sparse+{self.url}/index/")
        response = self.put_body(encode_publish_body(meta, crate))
        assert response.status_code == 200, response.text
        return crate

    def unique(self, stem: str) -> str:
        """A crate name no other test in the module uses."""
        return f"{stem}{next(self._counter)}"

    def index_lines(self, name: str) -> list[dict]:
        response = self.get(f"/index/{index_path(name)}")
        assert response.status_code == 200, response.text
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]

    def snapshot(self) -> tuple:
        """Everything a failed request must leave as it was."""
        git = self.data / "index.git"
        head = (git / "HEAD").read_bytes()
        ref = head.decode().removeprefix("ref: ").strip()
        ref_file = git / ref
        ref_content = ref_file.read_bytes() if ref_file.exists() else (git / "packed-refs").read_bytes()
        crates = sorted(str(p.relative_to(self.data)) for p in (self.data / "crates").rglob("*"))
        names = sorted(p.name for p in (self.data / "names").iterdir())
        served = sorted(str(p.relative_to(self.data)) for p in (self.data / "index").rglob("*"))
        return head, ref_content, crates, names, served
