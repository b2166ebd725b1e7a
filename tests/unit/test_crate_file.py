"""Reading .crate files: the manifest, the identity, the checksum and hostile archives."""

import gzip
import hashlib
import re

import pytest

from palletizer_lib.domain.crate_file import MANIFEST_LIMIT, checksum, crate_identity, read_manifest
from palletizer_lib.domain.errors import InvalidCrate
from tests.support.archives import manifest, tar_gz
from tests.support.cratekit import make_crate

LIMIT = 10 * 1024 * 1024


def test_reads_the_manifest_of_a_packaged_crate() -> None:
    crate = make_crate("foo", "1.2.3", 'description = "Foo"\n[dependencies.bar]\nversion = "1"\n')
    parsed = read_manifest(crate, "foo", "1.2.3", LIMIT)
    assert parsed["package"]["name"] == "foo"
    assert parsed["package"]["version"] == "1.2.3"
    assert parsed["package"]["description"] == "Foo"
    assert parsed["dependencies"] == {"bar": {"version": "1"}}


def test_reads_from_a_memoryview() -> None:
    crate = make_crate("foo", "1.0.0-rc.1+build.5")
    assert read_manifest(memoryview(crate), "foo", "1.0.0-rc.1+build.5", LIMIT)["package"]["name"] == "foo"


def test_finds_the_manifest_after_other_files() -> None:
    files = {"foo-1.0.0/src/lib.rs": b"pub fn f() {}\n" * 1000, "foo-1.0.0/Cargo.toml": manifest("foo", "1.0.0")}
    crate = tar_gz(files, directories=("foo-1.0.0/",))
    assert read_manifest(crate, "foo", "1.0.0", LIMIT)["package"]["version"] == "1.0.0"


@pytest.mark.parametrize("data", [b"", b"\x1f", b"PK\x03\x04zipfile", b"plain text", manifest("foo", "1.0.0")])
def test_rejects_data_that_is_not_gzip(data: bytes) -> None:
    with pytest.raises(InvalidCrate, match="gzip"):
        read_manifest(data, "foo", "1.0.0", LIMIT)
    with pytest.raises(InvalidCrate, match="gzip"):
        crate_identity(data, LIMIT)


@pytest.mark.parametrize(
    "data",
    [gzip.compress(b"", mtime=0), gzip.compress(b"hello world " * 1000, mtime=0), gzip.compress(b"x" * 512, mtime=0)],
)
def test_rejects_gzip_of_something_else_than_a_tar(data: bytes) -> None:
    with pytest.raises(InvalidCrate):
        read_manifest(data, "foo", "1.0.0", LIMIT)
    with pytest.raises(InvalidCrate):
        crate_identity(data, LIMIT)


def test_rejects_corrupted_gzip() -> None:
    crate = bytearray(make_crate("foo", "1.0.0", files={"src/big.rs": bytes(range(256)) * 64}))
    for i in range(20, len(crate) - 8, 7):
        crate[i] ^= 0xFF
    with pytest.raises(InvalidCrate):
        read_manifest(bytes(crate), "foo", "1.0.0", LIMIT)


def test_every_truncated_crate_is_refused() -> None:
    """Every proper prefix is refused, even when the whole manifest came before the cut."""
    crate = make_crate("foo", "1.0.0", files={"src/big.rs": bytes(range(256)) * 64})
    for cut in range(len(crate)):
        with pytest.raises(InvalidCrate):
            read_manifest(crate[:cut], "foo", "1.0.0", LIMIT)


def test_rejects_a_crate_without_cargo_toml() -> None:
    crate = tar_gz({"foo-1.0.0/src/lib.rs": b""})
    with pytest.raises(InvalidCrate, match="no foo-1.0.0/Cargo.toml"):
        read_manifest(crate, "foo", "1.0.0", LIMIT)


def test_rejects_cargo_toml_outside_the_package_directory() -> None:
    crate = tar_gz({"Cargo.toml": manifest("foo", "1.0.0"), "other-1.0.0/Cargo.toml": manifest("foo", "1.0.0")})
    with pytest.raises(InvalidCrate, match="`Cargo.toml` outside `foo-1.0.0/`"):
        read_manifest(crate, "foo", "1.0.0", LIMIT)


@pytest.mark.parametrize(
    ("name", "version"), [("foo", "1.0.1"), ("bar", "1.0.0"), ("Foo", "1.0.0"), ("foo", "1.0.0+b")]
)
def test_rejects_a_crate_for_another_name_or_version(name: str, version: str) -> None:
    with pytest.raises(InvalidCrate):
        read_manifest(make_crate("foo", "1.0.0"), name, version, LIMIT)


@pytest.mark.parametrize("toml", [manifest("bar", "1.0.0"), manifest("foo", "2.0.0"), manifest("FOO", "1.0.0")])
def test_rejects_a_manifest_disagreeing_with_its_directory(toml: bytes) -> None:
    crate = tar_gz({"foo-1.0.0/Cargo.toml": toml})
    with pytest.raises(InvalidCrate, match="but the upload is for foo 1.0.0"):
        read_manifest(crate, "foo", "1.0.0", LIMIT)


@pytest.mark.parametrize("toml", [b"[package\nname = 1", b'name = "foo"\nname = "foo"', b"\xff\xfe[package]", b"= 3"])
def test_rejects_invalid_toml(toml: bytes) -> None:
    with pytest.raises(InvalidCrate, match="not valid TOML"):
        read_manifest(tar_gz({"foo-1.0.0/Cargo.toml": toml}), "foo", "1.0.0", LIMIT)


@pytest.mark.parametrize("toml", [b"", b'package = "foo"', b"[workspace]\nmembers = []"])
def test_rejects_a_manifest_without_a_package_table(toml: bytes) -> None:
    with pytest.raises(InvalidCrate, match=r"no \[package\] table"):
        read_manifest(tar_gz({"foo-1.0.0/Cargo.toml": toml}), "foo", "1.0.0", LIMIT)


def test_rejects_a_manifest_that_is_not_a_regular_file() -> None:
    as_dir = tar_gz({}, directories=("foo-1.0.0/Cargo.toml",))
    as_link = tar_gz({}, symlinks={"foo-1.0.0/Cargo.toml": "/etc/passwd"})
    for crate in (as_dir, as_link):
        with pytest.raises(InvalidCrate, match="not a regular file|only regular files and directories"):
            read_manifest(crate, "foo", "1.0.0", LIMIT)


def test_rejects_a_huge_manifest() -> None:
    toml = manifest("foo", "1.0.0") + b"#" * MANIFEST_LIMIT
    with pytest.raises(InvalidCrate, match="sensible size"):
        read_manifest(tar_gz({"foo-1.0.0/Cargo.toml": toml}), "foo", "1.0.0", 4 * MANIFEST_LIMIT)


def test_gzip_bomb_is_stopped_at_the_unpacked_limit() -> None:
    bomb = tar_gz({"foo-1.0.0/zeros.bin": bytes(16 * 1024 * 1024), "foo-1.0.0/Cargo.toml": manifest("foo", "1.0.0")})
    assert len(bomb) < 64 * 1024
    with pytest.raises(InvalidCrate, match="more than the allowed size"):
        read_manifest(bomb, "foo", "1.0.0", 1024 * 1024)
    assert read_manifest(bomb, "foo", "1.0.0", 32 * 1024 * 1024)["package"]["name"] == "foo"


def test_unpacked_limit_counts_bytes_before_the_manifest() -> None:
    crate = tar_gz({"foo-1.0.0/data.bin": bytes(100_000), "foo-1.0.0/Cargo.toml": manifest("foo", "1.0.0")})
    with pytest.raises(InvalidCrate, match="more than the allowed size"):
        read_manifest(crate, "foo", "1.0.0", 50_000)
    assert read_manifest(crate, "foo", "1.0.0", 200_000)["package"]["name"] == "foo"


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("foo", "1.0.0"),
        ("foo-2d", "1.0.0-rc.1"),
        ("a-1", "1.0.0"),
        ("x-1-2", "0.1.0-3"),
        ("serde_json", "1.0.100+build-5.x"),
        ("a", "0.0.0"),
    ],
)
def test_crate_identity(name: str, version: str) -> None:
    assert crate_identity(make_crate(name, version), LIMIT) == (name, version)


@pytest.mark.parametrize("top", ["foo", "foo-1.0", "foo-", "1.0.0", "foo_1.0.0"])
def test_crate_identity_needs_name_dash_version(top: str) -> None:
    with pytest.raises(InvalidCrate, match="is not NAME-VERSION"):
        crate_identity(tar_gz({f"{top}/Cargo.toml": b""}), LIMIT)


def test_crate_identity_of_an_empty_archive() -> None:
    with pytest.raises(InvalidCrate, match="empty"):
        crate_identity(tar_gz({}), LIMIT)


def test_checksum_is_lowercase_hex_sha256() -> None:
    crate = make_crate("foo", "1.0.0")
    assert checksum(crate) == hashlib.sha256(crate).hexdigest()
    assert checksum(memoryview(crate)) == checksum(crate)
    assert re.fullmatch(r"[0-9a-f]{64}", checksum(crate))
    assert checksum(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert checksum(crate + b"x") != checksum(crate)
