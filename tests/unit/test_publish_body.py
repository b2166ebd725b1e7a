"""Cargo's publish request body: framing, limits and malformed input."""

import json
import struct

import pytest

from palletizer_lib.domain.errors import BadRequest
from palletizer_lib.domain.publish_body import MAX_METADATA_SIZE, encode_publish_body, parse_publish_body
from tests.support.cratekit import make_crate, metadata


def frame(meta: bytes, crate: bytes) -> bytes:
    """A body with raw metadata bytes (no JSON encoding) and exact lengths."""
    return struct.pack("<I", len(meta)) + meta + struct.pack("<I", len(crate)) + crate


def test_round_trip() -> None:
    meta = metadata("foo", "1.0.0", description="ünïcode ✓")
    crate = make_crate("foo", "1.0.0")
    parsed = parse_publish_body(encode_publish_body(meta, crate))
    assert parsed.metadata == meta
    assert bytes(parsed.crate) == crate


def test_round_trip_accepts_memoryview_and_empty_crate() -> None:
    parsed = parse_publish_body(memoryview(encode_publish_body({"name": "x"}, b"")))
    assert parsed.metadata == {"name": "x"}
    assert bytes(parsed.crate) == b""


def test_layout_is_little_endian_lengths() -> None:
    body = encode_publish_body({"a": 1}, b"CRATE")
    meta_len = struct.unpack_from("<I", body, 0)[0]
    assert json.loads(body[4 : 4 + meta_len]) == {"a": 1}
    assert struct.unpack_from("<I", body, 4 + meta_len)[0] == 5
    assert body.endswith(b"CRATE")


def test_every_truncation_is_a_bad_request() -> None:
    body = encode_publish_body({"name": "foo", "vers": "1.0.0"}, b"0123456789")
    for cut in range(len(body)):
        with pytest.raises(BadRequest):
            parse_publish_body(body[:cut])


def test_trailing_bytes_are_rejected() -> None:
    body = encode_publish_body({"name": "foo"}, b"crate")
    with pytest.raises(BadRequest, match="5-byte crate but carries 6 bytes"):
        parse_publish_body(body + b"x")


@pytest.mark.parametrize("declared", [100, 2**31, 2**32 - 1])
def test_declared_crate_length_larger_than_body(declared: int) -> None:
    meta = b"{}"
    body = struct.pack("<I", len(meta)) + meta + struct.pack("<I", declared) + b"abc"
    with pytest.raises(BadRequest):
        parse_publish_body(body)


def test_declared_metadata_length_larger_than_body() -> None:
    body = struct.pack("<I", 1000) + b"{}" + struct.pack("<I", 0)
    with pytest.raises(BadRequest, match="truncated"):
        parse_publish_body(body)


def test_metadata_above_the_limit_is_rejected_before_reading_it() -> None:
    with pytest.raises(BadRequest, match="more than the limit"):
        parse_publish_body(struct.pack("<I", MAX_METADATA_SIZE + 1) + b"{}")


def test_metadata_at_the_limit_is_accepted() -> None:
    meta = b"{" + b" " * (MAX_METADATA_SIZE - 2) + b"}"
    assert parse_publish_body(frame(meta, b"c")).metadata == {}


@pytest.mark.parametrize("meta", [b"[]", b'"foo"', b"1", b"null", b"true"])
def test_metadata_must_be_an_object(meta: bytes) -> None:
    with pytest.raises(BadRequest, match="JSON object"):
        parse_publish_body(frame(meta, b""))


@pytest.mark.parametrize("meta", [b"", b"{", b"{'a': 1}", b"{}{}", b"\xff\xfe{}", b'{"a": "\xc3"}', b"[" * 100_000])
def test_invalid_json_or_utf8_is_a_bad_request(meta: bytes) -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_publish_body(frame(meta, b""))
