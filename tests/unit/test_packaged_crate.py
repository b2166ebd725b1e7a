"""A .crate read in one pass: identity, Cargo.toml, README and checksum, and `add` reading its archive once."""

import hashlib
from pathlib import Path

import pytest

from palletizer_lib.admin.importer import import_directory
from palletizer_lib.core.actor import LOCAL, Actor
from palletizer_lib.core.composition import compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.crate_file import read_manifest
from palletizer_lib.domain.errors import InvalidCrate
from palletizer_lib.domain.packaged_crate import read_packaged
from tests.support.archives import tar_gz
from tests.support.cratekit import make_crate, metadata

LIMIT = 10 * 1024 * 1024
README = b"# Hello\n\nThe README.\n"


class CountedCrate(bytes):
    """A .crate's bytes counting the archive reads: each opening of the tar first looks at its gzip magic
    number, `crate[:2]`."""

    def __new__(cls, data: bytes) -> "CountedCrate":
        crate = super().__new__(cls, data)
        crate.opened = 0
        return crate

    def __getitem__(self, key):  # type: ignore[no-untyped-def]
        if isinstance(key, slice) and key.start in (None, 0) and key.stop == 2:
            self.opened += 1
        return super().__getitem__(key)


def described_crate(name: str = "foo", version: str = "1.0.0") -> bytes:
    return make_crate(
        name, version, 'description = "A foo"\nreadme = "README.md"\nkeywords = ["k"]\n', files={"README.md": README}
    )


def test_one_pass_reads_identity_manifest_readme_and_checksum() -> None:
    crate = described_crate()
    packaged = read_packaged(crate, LIMIT)
    assert (packaged.name, packaged.version) == ("foo", "1.0.0")
    assert packaged.manifest == read_manifest(crate, "foo", "1.0.0", LIMIT)
    assert packaged.readme == README.decode()
    assert packaged.checksum == hashlib.sha256(crate).hexdigest()
    assert packaged.description == "A foo"
    assert packaged.described()["keywords"] == ["k"] and packaged.described()["readme"] == README.decode()


def test_a_readme_stored_before_cargo_toml_is_found() -> None:
    manifest = b'[package]\nname = "foo"\nversion = "1.0.0"\nreadme = "A.md"\n'
    crate = tar_gz({"foo-1.0.0/A.md": README, "foo-1.0.0/Cargo.toml": manifest})
    assert read_packaged(crate, LIMIT).readme == README.decode()


def test_the_identity_given_must_match() -> None:
    with pytest.raises(InvalidCrate, match="outside `bar-1.0.0/`"):
        read_packaged(described_crate(), LIMIT, ("bar", "1.0.0"))
    with pytest.raises(InvalidCrate, match="is empty"):
        read_packaged(tar_gz({}), LIMIT)


def test_add_reads_the_archive_once(registry: Registry) -> None:
    site = compose(registry)
    crate = CountedCrate(described_crate())
    entry = site.operations.add(Actor("test", LOCAL), crate)
    assert crate.opened == 1
    assert entry["cksum"] == hashlib.sha256(crate).hexdigest()
    assert site.catalog.readme_html("foo", "1.0.0")
    assert registry.stored_crate("foo", "1.0.0") == crate


def test_publish_reads_the_archive_once(registry: Registry) -> None:
    site = compose(registry)
    site.accounts.add_user("alice")
    alice = Actor.user(site.accounts.authenticate(site.accounts.create_token("alice")[1]), "192.0.2.1")
    crate = CountedCrate(make_crate("foo", "1.0.0"))
    site.operations.publish(alice, metadata("foo", "1.0.0"), crate)
    assert crate.opened == 1


def test_import_reads_each_file_to_order_it_then_to_add_it(registry: Registry, tmp_path: Path) -> None:
    """The ordering pass and the adding pass each read a file once (through `Registry.read`)."""
    reads: list[str] = []

    class CountingRegistry(Registry):
        def read(self, crate: bytes | memoryview):  # type: ignore[no-untyped-def]
            packaged = super().read(crate)
            reads.append(packaged.name)
            return packaged

    vendor = tmp_path / "vendor"
    vendor.mkdir()
    for name in ("a", "b"):
        (vendor / f"{name}-1.0.0.crate").write_bytes(make_crate(name, "1.0.0"))
    report = import_directory(
        compose(CountingRegistry(registry.layout.root)).operations, vendor, actor=Actor("test", LOCAL)
    )
    assert [o.result for o in report.outcomes] == ["added", "added"]
    assert sorted(reads) == ["a", "a", "b", "b"]
