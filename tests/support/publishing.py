"""Publish a fresh crate as cargo would (its packaged Cargo.toml agreeing with its metadata): into a registry
through the library, as an actor through the operations, or over HTTP to a running server."""

import requests

from palletizer_lib.core.actor import Actor
from palletizer_lib.core.operations import Operations
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.publish_body import encode_publish_body
from tests.support.cratekit import crate_for, metadata


def publish(
    registry: Registry,
    name: str,
    version: str = "1.0.0",
    manifest_extra: str = "",
    crate: bytes | None = None,
    **fields: object,
) -> dict:
    """Publish `name` `version` into `registry` (`crate`: these bytes instead of the matching .crate,
    `fields`: metadata beyond the defaults); its index entry."""
    meta = metadata(name, version, **fields)
    return registry.publish(meta, crate_for(meta, manifest_extra) if crate is None else crate)


def publish_as(operations: Operations, actor: Actor, name: str, version: str = "1.0.0", **fields: object) -> dict:
    """Publish `name` `version` as `actor` through `operations` (owners, catalog and audit as the API's);
    its index entry."""
    meta = metadata(name, version, **fields)
    return operations.publish(actor, meta, crate_for(meta))


def put_crate(url: str, token: str, body: bytes, headers: dict[str, str] | None = None) -> requests.Response:
    """`PUT URL/api/v1/crates/new` with the publish body `body` and `token`, as cargo sends it."""
    return requests.put(
        f"{url}/api/v1/crates/new", data=body, headers={"Authorization": token, **(headers or {})}, timeout=30
    )


def publish_over_http(
    url: str, token: str, name: str, version: str = "1.0.0", headers: dict[str, str] | None = None, **fields: object
) -> bytes:
    """Publish `name` `version` to the server at `url` with `token`, assert it succeeded; the .crate bytes."""
    meta = metadata(name, version, **fields)
    crate = crate_for(meta, index_url=f"sparse+{url}/index/")
    response = put_crate(url, token, encode_publish_body(meta, crate), headers)
    assert response.status_code == 200, response.text
    return crate
