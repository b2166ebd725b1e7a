"""Hostile input, property-based: whatever arrives, the publish-body parser, the .crate reader,
`Registry.publish` / `Registry.add` and the publish endpoint either refuse it with a 4xx
PalletizerError (Cargo's error JSON over HTTP) or make a valid publish, after which `verify()` is clean.

Any other exception (RecursionError, UnicodeEncodeError, a 500...) fails the property. How many
examples run comes from the hypothesis profile (tests/conftest.py): few and fixed in `make test`,
many and random in `make fuzz`.
"""

import contextlib
import hashlib
import io
import json
import os
import struct
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import falcon.testing
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from palletizer_lib.core.registry import Registry
from palletizer_lib.disk.files import TEMP_PREFIX
from palletizer_lib.domain import crate_file
from palletizer_lib.domain.errors import PalletizerError
from palletizer_lib.domain.publish_body import MAX_METADATA_SIZE, PublishBody, encode_publish_body, parse_publish_body
from palletizer_lib.settings.config import RegistryConfig
from tests.support.archives import manifest
from tests.support.cratekit import dep, gzip_tar, make_crate, metadata
from tests.support.files import tree
from tests.support.inprocess import build_app
from tests.support.server import issue_token

T = TypeVar("T")
UNPACKED_LIMIT = 1024 * 1024
ROTATE_AFTER = 25
SENTINEL = b"outside the data directory"

# -- strategies ---------------------------------------------------------------------------

LOOKALIKES = [
    "cr\u0430te",
    "\uff46oo",
    "foo\u200b",
    "\u212aelvin",
    "\u017ferde",
    "\u0130nfo",
    "fo\u0301o",
    "\u0455erde",
    "foo\u2010bar",
    "ab\u0663",
]
HOSTILE_STRINGS = [
    "",
    ".",
    "..",
    "../x",
    "../../etc/passwd",
    "/abs",
    "a/b",
    "a\\b",
    "..\\x",
    "ab\x00cd",
    "a" * 65,
    "con",
    "NUL",
    "std",
    "-x",
    "1x",
    "a b",
    "a.b",
    "\ud800",
    "x\udfffy",
    "\n",
    *LOOKALIKES,
]
HOSTILE_VERSIONS = [
    "",
    "1",
    "1.0",
    "01.0.0",
    "1.0.0/../../x",
    "1.0.0\x00",
    "\uff11.0.0",
    "\u0663.0.0",
    "1.0.0-",
    "1.0.0+",
    "1.0.0-" + "a" * 200,
    "1.0.0-01",
    "v1.0.0",
    " 1.0.0",
    "1.0.0\ud800",
]

hostile_text = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=12))
valid_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,10}", fullmatch=True)
names = st.one_of(valid_names, hostile_text, st.tuples(valid_names, hostile_text).map("".join))
numbers = st.one_of(st.integers(0, 30), st.integers(0, 2**64 + 2), st.integers(0, 10**40))
identifiers = st.from_regex(r"[0-9A-Za-z-]{1,6}", fullmatch=True)


@st.composite
def semvers(draw: st.DrawFn) -> str:
    """Versions shaped like SemVer, with numbers up to far beyond 2^64."""
    version = ".".join(str(draw(numbers)) for _ in range(3))
    if draw(st.booleans()):
        version += "-" + ".".join(draw(st.lists(identifiers, min_size=1, max_size=3)))
    if draw(st.booleans()):
        version += "+" + ".".join(draw(st.lists(identifiers, min_size=1, max_size=2)))
    return version


versions = st.one_of(semvers(), st.sampled_from(HOSTILE_VERSIONS), st.text(max_size=10))
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), hostile_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(hostile_text, inner, max_size=4)),
    max_leaves=12,
)
METADATA_FIELDS = ("name", "vers", "deps", "features", "links", "rust_version", "description", "badges")


@st.composite
def hostile_deps(draw: st.DrawFn) -> object:
    """A dependency as cargo sends it, with some of its fields replaced by anything."""
    entry = dep(draw(names), draw(st.one_of(st.just("^1.0"), hostile_text)))
    for key in draw(st.lists(st.sampled_from(sorted(entry)), max_size=3, unique=True)):
        entry[key] = draw(json_values)
    return draw(st.one_of(st.just(entry), json_values))


small_semvers = st.tuples(*[st.integers(0, 999)] * 3).map(lambda parts: ".".join(map(str, parts)))
odd_features = st.dictionaries(hostile_text, st.lists(hostile_text, max_size=3), max_size=3)


@st.composite
def hostile_metadata(draw: st.DrawFn) -> dict:
    """Cargo's publish metadata: as cargo sends it; or so with one field hostile; or for a hostile
    name and version, with fields of any JSON type, hostile dependencies and features, a field missing."""
    mode = draw(st.sampled_from(["clean", "one field", "one field", "hostile"]))
    if mode != "hostile":
        meta = metadata(draw(valid_names), draw(small_semvers))
        if mode == "one field":
            key = draw(st.sampled_from(METADATA_FIELDS))
            meta[key] = draw(
                {"deps": st.lists(hostile_deps(), min_size=1, max_size=3), "features": odd_features}.get(
                    key, st.one_of(hostile_text, json_values)
                )
            )
        return meta
    meta = metadata(draw(names), draw(versions))
    for key in draw(st.lists(st.sampled_from(METADATA_FIELDS), max_size=3, unique=True)):
        meta[key] = draw(json_values)
    if draw(st.booleans()):
        meta["deps"] = draw(st.lists(hostile_deps(), max_size=3))
    if draw(st.booleans()):
        meta["features"] = draw(odd_features)
    for key in draw(st.lists(st.sampled_from(METADATA_FIELDS), max_size=1)):
        del meta[key]
    return meta


def crate_or_none(name: object, version: object) -> bytes | None:
    """A .crate for `name` and `version` as cargo packages it, if tar can even hold such names."""
    if not (isinstance(name, str) and isinstance(version, str)):
        return None
    try:
        return make_crate(name, version)
    except (UnicodeError, ValueError):
        return None


@st.composite
def crates_for(draw: st.DrawFn, meta: dict) -> bytes:
    """The matching .crate, another crate's, a truncated or corrupted one, or random bytes."""
    own = crate_or_none(meta.get("name"), meta.get("vers")) or make_crate("other", "1.0.0")
    kind = draw(st.sampled_from(["own"] * 6 + ["other", "truncated", "flipped", "random"]))
    if kind == "other":
        return make_crate(draw(valid_names), draw(semvers()))
    if kind == "truncated":
        return own[: draw(st.integers(0, len(own) - 1))]
    if kind == "flipped":
        at = draw(st.integers(0, len(own) - 1))
        return own[:at] + bytes([own[at] ^ draw(st.integers(1, 255))]) + own[at + 1 :]
    if kind == "random":
        return draw(st.binary(max_size=200))
    return own


def u32(n: int) -> bytes:
    return struct.pack("<I", n % 2**32)


HOSTILE_JSON = [
    b"",
    b"{",
    b"[]",
    b"null",
    b"42",
    b'"x"',
    b'{"name": "\xff\xfe"}',
    b"\xef\xbb\xbf{}",
    b'{"name": 1' + b"0" * 5000 + b"}",
    b'{"vers": 1e999999}',
    b'{"a": NaN}',
    b'{"a": "\\ud800"}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b'{"deps": [' + b"{}," * 20_000 + b"{}]}",
    b'{"description": "' + b"x" * MAX_METADATA_SIZE + b'"}',
]


@st.composite
def publish_bodies(draw: st.DrawFn) -> bytes:
    """Whole publish bodies: honest framing of hostile metadata and crates; hostile JSON; lengths
    that lie, a cut or trailing bytes; random bytes."""
    kind = draw(st.sampled_from(["honest"] * 3 + ["hostile JSON", "lying", "random"]))
    if kind == "random":
        return draw(st.binary(max_size=300))
    meta = draw(hostile_metadata())
    crate = draw(crates_for(meta))
    if kind == "honest":
        return encode_publish_body(meta, crate)
    if kind == "hostile JSON":
        meta_bytes = draw(st.one_of(st.sampled_from(HOSTILE_JSON), st.binary(max_size=100)))
        return u32(len(meta_bytes)) + meta_bytes + u32(len(crate)) + crate
    meta_bytes = json.dumps(meta).encode()
    lie = st.one_of(st.integers(-10, 10), st.integers(0, 2**32))
    body = u32(len(meta_bytes) + draw(lie)) + meta_bytes + u32(len(crate) + draw(lie)) + crate
    return body[: draw(st.integers(0, len(body)))] + draw(st.binary(max_size=8))


HOSTILE_TOML = [
    "x = " + "[" * 5000 + "]" * 5000,
    "x = " + "{a=" * 3000 + "1" + "}" * 3000,
    "[package]\n",
    'version = "9.9.9"',
    '[dependencies]\n"../x" = "1"',
    "[dependencies]\nserde = {version = 1}",
    '[dependencies.serde]\nregistry-index = "file:///etc"',
    '[features]\na = ["\\udc80"]',
    '[target."cfg(unix)".dependencies]\nfoo = "1"',
    '[dependencies]\nx = {package = "../y"}',
    "x = 99999999999999999999999999",
    "rust-version = 5",
    "links = []",
    "[features]\na = 1",
    '[dependencies]\nx = {version = "1", features = "a"}',
    "[target]\nx = 1",
    "dependencies = 1",
]
tar_types = st.sampled_from(
    [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE]
)


@st.composite
def hostile_archives(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(name, version, .crate): mostly a good Cargo.toml, maybe with hostile TOML in it, among members
    with absolute or `..` paths, links out of the archive, devices, duplicates; or a Cargo.toml
    that is missing, mismatched or not a file; maybe truncated."""
    name, version = draw(valid_names), draw(small_semvers)
    top = f"{name}-{version}"
    members: list[tuple[str, bytes, int, str]] = []
    if draw(st.integers(0, 3)) != 3:  # (0, the first example tried, keeps it)
        extra = draw(
            st.sampled_from(
                ["", "", HOSTILE_TOML[draw(st.integers(0, len(HOSTILE_TOML) - 1))], draw(st.text(max_size=30))]
            )
        )
        members.append((f"{top}/Cargo.toml", manifest(name, version, "\n" + extra), tarfile.REGTYPE, ""))
    paths = st.one_of(
        st.sampled_from(
            [
                f"{top}/Cargo.toml",
                f"{top}/src/lib.rs",
                f"/{top}/Cargo.toml",
                f"../{top}/Cargo.toml",
                f"{top}/../../outside",
                "/etc/evil",
                f"{top}/./Cargo.toml",
                "Cargo.toml",
                f"{top}//Cargo.toml",
                "../../../../../../tmp/evil",
            ]
        ),
        st.text(min_size=1, max_size=20),
    )
    targets = st.sampled_from(["/etc/passwd", "../../outside", f"{top}/Cargo.toml", ".."])
    contents = st.one_of(
        st.builds(
            lambda n, v: f'[package]\nname = "{n}"\nversion = "{v}"\n'.encode("utf-8", "surrogatepass"), names, versions
        ),
        st.binary(max_size=40),
    )
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 4]))):
        kind = draw(tar_types)
        members.append((draw(paths), draw(contents) if kind == tarfile.REGTYPE else b"", kind, draw(targets)))
    raw = io.BytesIO()
    with gzip_tar(raw, format=tarfile.PAX_FORMAT) as archive:
        for path, data, kind, target in draw(st.permutations(members)):
            info = tarfile.TarInfo(path)
            info.type, info.size = kind, len(data)
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = target
            with contextlib.suppress(UnicodeError, ValueError):  # a name tar cannot even hold
                archive.addfile(info, io.BytesIO(data))
    crate = raw.getvalue()
    cut = draw(st.sampled_from([len(crate)] * 3 + [draw(st.integers(0, len(crate)))]))
    return name, version, crate[:cut]


# -- what is allowed to happen --------------------------------------------------------------


def refused_or(call: Callable[[], T]) -> T | None:
    """`call()`'s result, or None if it raised a PalletizerError with a 4xx status (anything else fails)."""
    try:
        return call()
    except PalletizerError as error:
        assert 400 <= error.status < 500, (error.status, error.detail)
        assert error.detail
        return None


def assert_nothing_stray(registry: Registry) -> None:
    """No temporary or lock file left behind, no link, and every crate file where a valid name puts it."""
    for directory, subdirectories, files in os.walk(registry.layout.root):
        for name in subdirectories + files:
            path = Path(directory, name)
            assert not (name.startswith(TEMP_PREFIX) or name.endswith(".lock") or path.is_symlink()), path
    for path in registry.layout.crates.rglob("*"):
        assert path.is_dir() or path.name.startswith(f"{path.parent.name}-"), path


def assert_published(registry: Registry, entry: dict, crate: bytes) -> None:
    """`entry` is in the index exactly once, its file is `crate`, and the registry is consistent."""
    assert [e for e in registry.entries(entry["name"]) if e["vers"] == entry["vers"]] == [entry]
    stored = registry.stored_crate(entry["name"], entry["vers"])
    assert stored == crate and entry["cksum"] == hashlib.sha256(crate).hexdigest()
    assert registry.verify() == []


class Registries:
    """The registries this module's examples publish to, beside a directory nothing may touch
    (`outside/`): a fresh one after every ROTATE_AFTER valid publishes, so that checks reading a whole
    registry (verify) stay cheap however many examples run."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "outside").mkdir()
        (root / "outside" / "sentinel").write_bytes(SENTINEL)
        self.opened: list[tuple[Registry, falcon.testing.TestClient]] = []
        self._published = 0
        self._open()

    def _open(self) -> None:
        """A new registry, and `palletizer-all`'s app in process over it, with an admin token."""
        data = self.root / f"data{len(self.opened)}"
        self.registry = Registry.create(
            data, RegistryConfig(public_url="http://registry.test", max_crate_size=64 * 1024)
        )
        self.client = falcon.testing.TestClient(build_app(self.registry, url=None)[0])
        self.token = issue_token(data)
        self.opened.append((self.registry, self.client))

    def published(self) -> None:
        """Count a valid publish to the current registry."""
        self._published += 1
        if self._published % ROTATE_AFTER == 0:
            self._open()

    def assert_outside_untouched(self) -> None:
        assert tree(self.root / "outside") == {"sentinel": SENTINEL}
        assert all(p.name == "outside" or p.name.startswith("data") for p in self.root.iterdir())


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Registries:
    return Registries(tmp_path_factory.mktemp("hostile"))


# -- the publish body ---------------------------------------------------------------------


def check_parsed(body: bytes) -> None:
    parsed = refused_or(lambda: parse_publish_body(body))
    if parsed is not None:
        assert isinstance(parsed, PublishBody) and isinstance(parsed.metadata, dict)
        json_len = struct.unpack_from("<I", body)[0]
        assert len(body) == 4 + json_len + 4 + len(parsed.crate)
        assert bytes(parsed.crate) == body[8 + json_len :]


@given(st.binary(max_size=400))
def test_publish_body_parser_on_any_bytes(body: bytes) -> None:
    check_parsed(body)


@given(publish_bodies())
def test_publish_body_parser_on_lying_lengths_and_hostile_json(body: bytes) -> None:
    check_parsed(body)


@pytest.mark.parametrize(
    "meta",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        b'{"name": "x", "features": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["arrays", "objects", "inside a field"],
)
def test_json_nested_100000_levels_is_a_clean_400(meta: bytes) -> None:
    body = u32(len(meta)) + meta + u32(0)
    with pytest.raises(PalletizerError) as refused:
        parse_publish_body(body)
    assert refused.value.status == 400 and "JSON" in refused.value.detail


@pytest.mark.parametrize("depth", [500, 900, 990])
def test_metadata_nested_just_below_the_limit_is_refused_or_ignored(registries: Registries, depth: int) -> None:
    """JSON the parser still accepts, nested in a field the registry reads or in one it ignores."""
    for field in ("features", "deps", "badges"):
        meta = metadata(f"deep-meta-{depth}", "1.0.0")
        for _ in range(depth):
            meta[field] = [meta[field]]
        entry = refused_or(
            lambda meta=meta: registries.registry.publish(meta, make_crate(f"deep-meta-{depth}", "1.0.0"))
        )
        assert entry is None or field == "badges"


# -- the .crate file ----------------------------------------------------------------------


def check_read(crate: bytes, name: str, version: str) -> None:
    """Reading `crate` as `name` `version` is refused, or finds that crate's Cargo.toml, a regular file."""
    identity = refused_or(lambda: crate_file.crate_identity(crate, UNPACKED_LIMIT))
    assert identity is None or all(isinstance(part, str) for part in identity)
    manifest = refused_or(lambda: crate_file.read_manifest(crate, name, version, UNPACKED_LIMIT))
    if manifest is not None:
        assert (manifest["package"]["name"], manifest["package"]["version"]) == (name, version)
        with tarfile.open(fileobj=io.BytesIO(crate)) as archive:
            found = [m for m in archive.getmembers() if m.name == f"{name}-{version}/Cargo.toml"]
        assert found and all(m.isfile() for m in found)


@given(st.one_of(st.binary(max_size=300), st.binary(max_size=300).map(lambda b: zlib.compress(b, wbits=31))))
def test_crate_reader_on_any_bytes(crate: bytes) -> None:
    check_read(crate, "foo", "1.0.0")


@given(hostile_archives())
def test_crate_reader_on_hostile_archives(archive: tuple[str, str, bytes]) -> None:
    check_read(archive[2], archive[0], archive[1])


def test_toml_nested_100000_levels_is_a_clean_400() -> None:
    """tomllib recurses once per level: the RecursionError must not escape."""
    for value in ("[" * 100_000 + "]" * 100_000, "{a=" * 50_000 + "1" + "}" * 50_000):
        crate = make_crate("deep-toml", "1.0.0", f"x = {value}\n")
        with pytest.raises(PalletizerError) as refused:
            crate_file.read_manifest(crate, "deep-toml", "1.0.0", UNPACKED_LIMIT)
        assert refused.value.status == 400 and "nested too deeply" in refused.value.detail


# -- Registry.publish, Registry.add and the endpoint ---------------------------------------


@given(st.data())
def test_registry_publish_refuses_or_publishes_validly(registries: Registries, data: st.DataObject) -> None:
    meta = data.draw(hostile_metadata(), "metadata")
    crate = data.draw(crates_for(meta), "crate")
    registry = registries.registry
    entry = refused_or(lambda: registry.publish(meta, crate))
    event("published" if entry else "refused")
    if entry is not None:
        assert_published(registry, entry, crate)
        registries.published()
    assert_nothing_stray(registry)
    registries.assert_outside_untouched()


@given(hostile_archives())
def test_registry_add_refuses_or_adds_validly(registries: Registries, archive: tuple[str, str, bytes]) -> None:
    crate = archive[2]
    registry = registries.registry
    entry = refused_or(lambda: registry.add(crate))
    event("added" if entry else "refused")
    if entry is not None:
        assert_published(registry, entry, crate)
        registries.published()
    assert_nothing_stray(registry)
    registries.assert_outside_untouched()


@given(publish_bodies())
def test_publish_endpoint_answers_200_or_4xx_cargo_json(registries: Registries, body: bytes) -> None:
    registry = registries.registry
    response = registries.client.simulate_put(
        "/api/v1/crates/new", body=body, headers={"Authorization": registries.token}
    )
    assert response.status_code == 200 or 400 <= response.status_code < 500, (response.status, response.text)
    assert response.headers["content-type"].startswith("application/json")
    event(f"status {response.status_code}")
    if response.status_code != 200:
        [error] = response.json["errors"]
        assert error["detail"]
    else:
        published = parse_publish_body(body)
        entries = registry.entries(published.metadata["name"])
        assert any(e["vers"] == published.metadata["vers"] for e in entries)
        assert registry.verify() == []
        registries.published()
    assert_nothing_stray(registry)


def test_search_still_answers_after_every_hostile_publish(registries: Registries) -> None:
    """Whatever was published above, listing every crate works (a bad description once broke it)."""
    for registry, client in registries.opened:
        response = client.simulate_get("/api/v1/crates", params={"q": "", "per_page": "100"})
        assert response.status_code == 200, response.text
        assert response.json["meta"]["total"] == len(list(registry.summaries()))


def test_unpaired_surrogates_are_refused_before_anything_is_stored(registries: Registries) -> None:
    """JSON may carry `\\ud800`; no index line or search answer (UTF-8) can."""
    registry = registries.registry
    for fields in (
        {"description": "a\ud800b"},
        {"features": {"a": ["\udfff"]}},
        {"deps": [dep("serde", "\ud800")]},
        {"links": "\udc80"},
    ):
        with pytest.raises(PalletizerError) as refused:
            registry.publish(metadata("surrogates", "1.0.0", **fields), make_crate("surrogates", "1.0.0"))
        assert refused.value.status == 400 and "Unicode" in refused.value.detail
    assert registry.canonical_name("surrogates") is None and registry.verify() == []
