"""Malformed and refused publish bodies: each is a 4xx in Cargo's error JSON and changes nothing.

The last test checks that the app still answers correctly after all of it. (Requests malformed on the wire:
tests/http/test_bad_requests.py.)
"""

import gzip
import io
import json
import os
import struct
import tarfile

import pytest

from palletizer_lib.domain.publish_body import MAX_METADATA_SIZE, encode_publish_body
from palletizer_lib.domain.urls import CRATES_IO_INDEX
from tests.support import archives
from tests.support.cratekit import crate_for, dep, gzip_tar, make_crate, metadata
from tests.support.http import SMALL_MAX_CRATE_SIZE, assert_error
from tests.support.inprocess import InProcess


def u32(n: int) -> bytes:
    return struct.pack("<I", n)


def raw_body(meta: bytes, crate: bytes) -> bytes:
    return u32(len(meta)) + meta + u32(len(crate)) + crate


def tar_gz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with gzip_tar(raw) as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def manifest(name: str, version: str) -> bytes:
    return f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n'.encode()


GOOD_META = json.dumps(metadata("bad-input", "1.0.0")).encode()
GOOD_CRATE = make_crate("bad-input", "1.0.0")


def with_meta(**fields: object) -> bytes:
    """A body for crate `bad-input` 1.0.0 whose metadata has `fields` changed."""
    return encode_publish_body(metadata("bad-input", "1.0.0", **fields), GOOD_CRATE)


def without(field: str) -> bytes:
    meta = metadata("bad-input", "1.0.0")
    del meta[field]
    return encode_publish_body(meta, GOOD_CRATE)


def named(name: object, version: object = "1.0.0") -> bytes:
    meta = metadata("placeholder", "1.0.0")
    meta["name"], meta["vers"] = name, version
    crate_name = name if isinstance(name, str) else "x"
    crate_version = version if isinstance(version, str) else "1.0.0"
    return encode_publish_body(meta, tar_gz({f"{crate_name}-{crate_version}/Cargo.toml": b""}))


BAD_BODIES = {
    # framing
    "empty body": b"",
    "truncated length": b"\x05\x00",
    "metadata shorter than declared": u32(1000) + b"{}",
    "no crate length": u32(len(GOOD_META)) + GOOD_META,
    "truncated crate length": u32(len(GOOD_META)) + GOOD_META + b"\x01\x00",
    "crate shorter than declared": u32(len(GOOD_META)) + GOOD_META + u32(len(GOOD_CRATE) + 10) + GOOD_CRATE,
    "crate length beyond everything": u32(len(GOOD_META)) + GOOD_META + u32(0xFFFFFFFF) + GOOD_CRATE,
    "trailing bytes after the crate": raw_body(GOOD_META, GOOD_CRATE) + b"extra",
    "metadata length beyond the limit": u32(MAX_METADATA_SIZE + 1) + GOOD_META,
    "metadata length 4 GiB": u32(0xFFFFFFFF) + GOOD_META,
    # metadata
    "invalid JSON": raw_body(b"{not json", GOOD_CRATE),
    "invalid UTF-8": raw_body(b'{"name": "\xff\xfe"}', GOOD_CRATE),
    "JSON array": raw_body(b'["bad-input", "1.0.0"]', GOOD_CRATE),
    "JSON string": raw_body(b'"bad-input"', GOOD_CRATE),
    "JSON null": raw_body(b"null", GOOD_CRATE),
    "JSON number": raw_body(b"42", GOOD_CRATE),
    "deeply nested JSON": raw_body(b"[" * 100_000 + b"]" * 100_000, GOOD_CRATE),
    "missing name": without("name"),
    "missing vers": without("vers"),
    "name null": named(None),
    "name number": named(7),
    "name empty": named(""),
    "name ../x": named("../x"),
    "name a/b": named("a/b"),
    "name with backslash": named("a\\b"),
    "name with NUL": named("ab\x00cd"),
    "name con": named("con"),
    "name CON": named("CON"),
    "name nul": named("nul"),
    "name std": named("std"),
    "name 65 chars": named("a" * 65),
    "name unicode": named("crâte"),
    "name non-ascii digit": named("abc\u0663"),
    "name starts with digit": named("1abc"),
    "name starts with dash": named("-abc"),
    "name with space": named("a b"),
    "name with dot": named("a.b"),
    "version 1.0": named("bad-input", "1.0"),
    "version x": named("bad-input", "x"),
    "version empty": named("bad-input", ""),
    "version leading zero": named("bad-input", "01.0.0"),
    "version number": named("bad-input", 1),
    "version with slash": named("bad-input", "1.0.0/../../x"),
    "version too long": named("bad-input", "1.0.0-" + "a" * 200),
    "deps not a list": with_meta(deps={"serde": "1"}),
    "dep not an object": with_meta(deps=["serde"]),
    "dep with bad name": with_meta(deps=[{"name": "../evil", "version_req": "1"}]),
    "dep with bad kind": with_meta(deps=[{"name": "serde", "version_req": "1", "kind": "weird"}]),
    "dep without version_req": with_meta(deps=[{"name": "serde"}]),
    "features not an object": with_meta(features=["a"]),
    "feature values not strings": with_meta(features={"a": [1]}),
    # the .crate file
    "crate not gzip": raw_body(GOOD_META, b"this is not a gzip file"),
    "crate empty": raw_body(GOOD_META, b""),
    "crate gzip but not tar": raw_body(GOOD_META, gzip.compress(b"plain text, not a tar archive" * 20, mtime=0)),
    "crate truncated gzip": raw_body(GOOD_META, GOOD_CRATE[: len(GOOD_CRATE) // 2]),
    "crate without Cargo.toml": raw_body(GOOD_META, tar_gz({"bad-input-1.0.0/src/lib.rs": b""})),
    "crate with Cargo.toml elsewhere": raw_body(GOOD_META, tar_gz({"Cargo.toml": manifest("bad-input", "1.0.0")})),
    "crate of another crate": raw_body(GOOD_META, make_crate("other-crate", "1.0.0")),
    "crate of another version": raw_body(GOOD_META, make_crate("bad-input", "1.0.1")),
    "crate manifest name mismatch": raw_body(
        GOOD_META, tar_gz({"bad-input-1.0.0/Cargo.toml": manifest("other-crate", "1.0.0")})
    ),
    "crate manifest version mismatch": raw_body(
        GOOD_META, tar_gz({"bad-input-1.0.0/Cargo.toml": manifest("bad-input", "9.9.9")})
    ),
    "crate manifest not TOML": raw_body(GOOD_META, tar_gz({"bad-input-1.0.0/Cargo.toml": b"[package\nname="})),
    "crate manifest without package": raw_body(GOOD_META, tar_gz({"bad-input-1.0.0/Cargo.toml": b"[lib]\n"})),
}


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """Far more than 20 x max_crate_size unpacked before its Cargo.toml."""
    return archives.gzip_bomb("bad-input", "1.0.0", 260 * 1024 * 1024)


@pytest.fixture(scope="module")
def seeded(app: InProcess) -> InProcess:
    """A registry that already holds something, so 'unchanged' is not trivially 'empty'."""
    app.publish("seed-crate", "1.0.0")
    return app


@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_bad_publish_is_4xx_json_and_changes_nothing(seeded: InProcess, body: bytes) -> None:
    before = seeded.snapshot()
    response = seeded.put_body(body)
    assert_error(response)
    assert seeded.snapshot() == before


def test_bad_names_are_explained(seeded: InProcess) -> None:
    assert "../x" in assert_error(seeded.put_body(named("../x")), 400)
    assert "64" in assert_error(seeded.put_body(named("a" * 65)), 400)
    assert "1.0" in assert_error(seeded.put_body(named("bad-input", "1.0")), 400)


def test_gzip_bomb_is_refused(seeded: InProcess, gzip_bomb: bytes) -> None:
    assert len(gzip_bomb) < 1024 * 1024  # well within max_crate_size
    before = seeded.snapshot()
    assert_error(seeded.put_body(raw_body(GOOD_META, gzip_bomb)), 400)
    assert seeded.snapshot() == before


# -- size limits (a registry with a small max_crate_size) ---------------------------------


def incompressible_crate(name: str, payload: int) -> bytes:
    return make_crate(name, "1.0.0", files={"src/blob.bin": os.urandom(payload)})


def test_crate_within_max_crate_size_is_accepted(small_app: InProcess) -> None:
    crate = incompressible_crate("small-ok", SMALL_MAX_CRATE_SIZE // 2)
    assert len(crate) <= SMALL_MAX_CRATE_SIZE
    response = small_app.put_body(encode_publish_body(metadata("small-ok", "1.0.0"), crate))
    assert response.status_code == 200, response.text


def test_crate_larger_than_max_crate_size_is_413(small_app: InProcess) -> None:
    crate = incompressible_crate("small-big", SMALL_MAX_CRATE_SIZE)
    assert len(crate) > SMALL_MAX_CRATE_SIZE
    before = small_app.snapshot()
    detail = assert_error(small_app.put_body(encode_publish_body(metadata("small-big", "1.0.0"), crate)), 413)
    assert str(SMALL_MAX_CRATE_SIZE) in detail
    assert small_app.snapshot() == before


def test_small_registry_still_answers(small_app: InProcess) -> None:
    assert small_app.get("/index/config.json").json["api"] == small_app.url
    crate = small_app.get("/files/small-ok/small-ok-1.0.0.crate")
    assert crate.status_code == 200


# -- the packaged Cargo.toml against the metadata ---------------------------------------

EVIL_INDEX = "https://evil.example/index"
EVIL_TABLE = f'[dependencies.evil]\nversion = "1"\nregistry-index = "{EVIL_INDEX}"\n'


def mismatched(app: InProcess, sent: dict, packaged: dict, manifest_extra: str = "") -> bytes:
    """A publish body sending metadata `sent` with the crate cargo would package for `packaged`."""
    return encode_publish_body(sent, crate_for(packaged, manifest_extra, index_url=f"sparse+{app.url}/index/"))


MISMATCHES = {
    "a disallowed-registry dependency only in Cargo.toml": (
        lambda m: (m(), m(), EVIL_TABLE),
        f"dependency `evil` (from registry {EVIL_INDEX}) is in Cargo.toml but not in the metadata",
    ),
    "a disallowed-registry dependency the metadata says is this registry's": (
        lambda m: (m(deps=[dep("evil", "^1")]), m(deps=[dep("evil", "^1", registry=EVIL_INDEX)]), ""),
        f"dependency `evil` has registry {EVIL_INDEX} in Cargo.toml but this registry in the metadata",
    ),
    "a renamed dependency only in Cargo.toml": (
        lambda m: (m(), m(deps=[dep("evil", "^1", registry=EVIL_INDEX, explicit_name_in_toml="serde")]), ""),
        f"dependency `serde` (package `evil`) (from registry {EVIL_INDEX}) is in Cargo.toml but not in the metadata",
    ),
    "a target-specific build-dependency only in Cargo.toml": (
        lambda m: (m(), m(deps=[dep("evil", "^1", registry=EVIL_INDEX, kind="build", target="cfg(unix)")]), ""),
        f"build-dependency `evil` for target `cfg(unix)` (from registry {EVIL_INDEX}) is in Cargo.toml but not",
    ),
    "a dependency only in the metadata": (
        lambda m: (m(deps=[dep("serde", "^1", registry=CRATES_IO_INDEX)]), m(), ""),
        "dependency `serde` (from crates.io) is in the metadata but not in Cargo.toml",
    ),
    "another version requirement": (
        lambda m: (
            m(deps=[dep("serde", "^1", registry=CRATES_IO_INDEX)]),
            m(deps=[dep("serde", "^0.1", registry=CRATES_IO_INDEX)]),
            "",
        ),
        "dependency `serde` (from crates.io) has version requirement `^0.1` in Cargo.toml but `^1` in the metadata",
    ),
    "a dependency optional in Cargo.toml only": (
        lambda m: (
            m(deps=[dep("serde", "^1", registry=CRATES_IO_INDEX)]),
            m(
                deps=[
                    dep(
                        "serde",
                        "^1",
                        registry=CRATES_IO_INDEX,
                        optional=True,
                        features=["derive"],
                        default_features=False,
                    )
                ]
            ),
            "",
        ),
        'has features `["derive"]` in Cargo.toml but `[]` in the metadata, optional true in Cargo.toml but false in'
        " the metadata, default-features false in Cargo.toml but true in the metadata",
    ),
    "another features table": (
        lambda m: (m(features={"std": []}), m(features={"std": ["dep:evil"], "x": []}), ""),
        'feature `std` is `["dep:evil"]` in Cargo.toml but `[]` in the metadata; feature `x` is in Cargo.toml',
    ),
    "another links": (lambda m: (m(), m(links="ssl"), ""), "`links` is `ssl` in Cargo.toml but none in the metadata"),
}


@pytest.mark.parametrize("case", list(MISMATCHES))
def test_a_packaged_cargo_toml_disagreeing_with_the_metadata_is_400(seeded: InProcess, case: str) -> None:
    """Cargo builds a downloaded crate from its Cargo.toml: what it says must be what the index says."""
    make, expected = MISMATCHES[case]
    sent, packaged, extra = make(lambda **fields: metadata("hidden-dep", "1.0.0", **fields))
    before = seeded.snapshot()
    detail = assert_error(seeded.put_body(mismatched(seeded, sent, packaged, extra)), 400)
    assert detail.startswith("the packaged Cargo.toml does not match the publish metadata: "), detail
    assert expected in detail, detail
    assert seeded.snapshot() == before
    assert_error(seeded.get("/files/hidden-dep/hidden-dep-1.0.0.crate"), 404)


def test_a_disallowed_registry_in_both_is_403(seeded: InProcess) -> None:
    meta = metadata("hidden-dep", "1.0.0", deps=[dep("evil", "^1", registry=EVIL_INDEX)])
    before = seeded.snapshot()
    detail = assert_error(seeded.put_body(mismatched(seeded, meta, meta)), 403)
    assert "`evil`" in detail and EVIL_INDEX in detail
    assert seeded.snapshot() == before


def test_a_packaged_cargo_toml_agreeing_with_the_metadata_is_published(seeded: InProcess) -> None:
    """Spelled as `cargo package` writes it: requirements without `^`, this registry's deps by its index URL."""
    meta = metadata(
        "agreeing",
        "1.0.0",
        features={"default": ["dep:local"], "fast": []},
        links="agree",
        rust_version="1.70",
        deps=[
            dep("local", "^0.1", optional=True),
            dep("serde", ">= 1.0, < 2", registry=CRATES_IO_INDEX),
            dep("seed-crate", "^1", explicit_name_in_toml="seed", kind="build", target="cfg(unix)"),
        ],
    )
    packaged = {**meta, "deps": [{**d, "version_req": d["version_req"].lstrip("^")} for d in meta["deps"]]}
    assert seeded.put_body(mismatched(seeded, meta, packaged)).status_code == 200
    [entry] = seeded.index_lines("agreeing")
    assert [d["name"] for d in entry["deps"]] == ["local", "serde", "seed"]


# -- after all of the above ------------------------------------------------------------


def test_server_still_answers_correctly_afterwards(seeded: InProcess) -> None:
    config = seeded.get("/index/config.json")
    assert config.status_code == 200
    assert config.json == {
        "dl": f"{seeded.url}/files/{{crate}}/{{crate}}-{{version}}.crate",
        "api": seeded.url,
        "public-url": seeded.url,
    }
    # Nothing the bad requests named was created...
    assert_error(seeded.get("/index/ba/d-/bad-input"), 404)
    assert not (seeded.data / "crates" / "bad-input").exists()
    # ...and publishing, the index and downloads all still work.
    crate = seeded.publish("bad-input", "1.0.0")
    assert [e["vers"] for e in seeded.index_lines("bad-input")] == ["1.0.0"]
    assert seeded.get("/files/bad-input/bad-input-1.0.0.crate").content == crate
    assert seeded.get("/index/se/ed/seed-crate").status_code == 200
