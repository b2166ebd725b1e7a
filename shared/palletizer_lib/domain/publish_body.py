"""Cargo's publish request body: u32 LE JSON length, JSON metadata, u32 LE crate length, .crate bytes."""

import json
import struct
from dataclasses import dataclass

from palletizer_lib.domain.errors import BadRequest

MAX_METADATA_SIZE = 1024 * 1024
# The two length fields of the body.
_LENGTHS_SIZE = 8


@dataclass(frozen=True)
class PublishBody:
    """The two parts of a publish request."""

    metadata: dict[str, object]
    crate: memoryview


def max_publish_body(max_crate_size: int) -> int:
    """The largest publish request body a registry taking crates of up to `max_crate_size` bytes accepts."""
    return max_crate_size + MAX_METADATA_SIZE + _LENGTHS_SIZE


def parse_publish_body(body: bytes | memoryview) -> PublishBody:
    """Split a publish body into its JSON metadata and .crate bytes (no copy of the crate)."""
    view = memoryview(body)
    json_len, offset = _read_length(view, 0, "metadata")
    if json_len > MAX_METADATA_SIZE:
        raise BadRequest(f"the publish metadata is {json_len} bytes, more than the limit of {MAX_METADATA_SIZE}")
    if offset + json_len > len(view):
        raise BadRequest("the publish body is truncated: the metadata is shorter than its declared length")
    try:
        metadata = json.loads(bytes(view[offset : offset + json_len]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadRequest(f"the publish metadata is not valid JSON: {exc}") from exc
    if not isinstance(metadata, dict):
        raise BadRequest("the publish metadata must be a JSON object")
    offset += json_len
    crate_len, offset = _read_length(view, offset, "crate")
    if offset + crate_len != len(view):
        raise BadRequest(f"the publish body declares a {crate_len}-byte crate but carries {len(view) - offset} bytes")
    return PublishBody(metadata, view[offset:])


def _read_length(view: memoryview, offset: int, what: str) -> tuple[int, int]:
    if offset + 4 > len(view):
        raise BadRequest(f"the publish body is truncated before the {what} length")
    (length,) = struct.unpack_from("<I", view, offset)
    return length, offset + 4


def encode_publish_body(metadata: dict[str, object], crate: bytes) -> bytes:
    """Build a publish body as cargo does (used by tests and tools)."""
    meta = json.dumps(metadata).encode("utf-8")
    return struct.pack("<I", len(meta)) + meta + struct.pack("<I", len(crate)) + crate
