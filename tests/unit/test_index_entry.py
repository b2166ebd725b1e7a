"""Index entries built from publish metadata and from a packaged Cargo.toml."""

import tomllib

import pytest

from palletizer_lib.domain.errors import InvalidCrate
from palletizer_lib.domain.index_entry import (
    cargo_req,
    check_entry,
    dump_line,
    dump_lines,
    entry_from_manifest,
    entry_from_metadata,
    make_entry,
    parse_lines,
)
from palletizer_lib.domain.urls import CRATES_IO_INDEX
from tests.support.cratekit import dep, metadata

CKSUM = "ab" * 32
OWN_URLS = ["sparse+http://registry.test/index/", "http://registry.test/git/index"]


def only_dep(entry: dict) -> dict:
    """The single dependency of `entry`."""
    assert len(entry["deps"]) == 1
    return entry["deps"][0]


# -- from publish metadata ----------------------------------------------------------------


def test_minimal_entry() -> None:
    assert entry_from_metadata(metadata("foo", "1.0.0"), CKSUM) == {
        "name": "foo",
        "vers": "1.0.0",
        "deps": [],
        "cksum": CKSUM,
        "features": {},
        "yanked": False,
        "links": None,
    }


def test_plain_dependency() -> None:
    entry = entry_from_metadata(metadata("foo", "1.0.0", deps=[dep("bar", "^1.2", features=["x"])]), CKSUM)
    assert only_dep(entry) == {
        "name": "bar",
        "req": "^1.2",
        "features": ["x"],
        "optional": False,
        "default_features": True,
        "target": None,
        "kind": "normal",
    }


def test_renamed_dependency_uses_the_toml_name_and_keeps_the_package() -> None:
    entry = entry_from_metadata(metadata("foo", "1.0.0", deps=[dep("real-name", explicit_name_in_toml="alias")]), CKSUM)
    assert only_dep(entry)["name"] == "alias"
    assert only_dep(entry)["package"] == "real-name"


def test_registry_target_kind_and_flags_are_kept() -> None:
    deps = [
        dep("a", registry=CRATES_IO_INDEX, target="cfg(unix)", kind="dev", optional=True, default_features=False),
        dep("b", kind="build"),
        dep("c", kind=None),
    ]
    entry = entry_from_metadata(metadata("foo", "1.0.0", deps=deps), CKSUM)
    a, b, c = entry["deps"]
    assert a["registry"] == CRATES_IO_INDEX
    assert a["target"] == "cfg(unix)"
    assert (a["kind"], a["optional"], a["default_features"]) == ("dev", True, False)
    assert b["kind"] == "build"
    assert c["kind"] == "normal"
    assert "registry" not in b and "package" not in b


def test_dependency_without_optional_fields_gets_defaults() -> None:
    entry = entry_from_metadata(metadata("foo", "1.0.0", deps=[{"name": "bar", "version_req": "*"}]), CKSUM)
    assert only_dep(entry) == {
        "name": "bar",
        "req": "*",
        "features": [],
        "optional": False,
        "default_features": True,
        "target": None,
        "kind": "normal",
    }


def test_extended_features_go_to_features2() -> None:
    features = {"default": ["std"], "std": [], "serde": ["dep:serde"], "derive": ["serde?/derive", "std"]}
    entry = entry_from_metadata(metadata("foo", "1.0.0", features=features), CKSUM)
    assert entry["features"] == {"default": ["std"], "std": []}
    assert entry["features2"] == {"serde": ["dep:serde"], "derive": ["serde?/derive", "std"]}
    assert entry["v"] == 2


def test_plain_features_need_no_v2() -> None:
    entry = entry_from_metadata(metadata("foo", "1.0.0", features={"a": ["b"], "b": ["bar/x"]}), CKSUM)
    assert entry["features"] == {"a": ["b"], "b": ["bar/x"]}
    assert "features2" not in entry and "v" not in entry


def test_links_and_rust_version() -> None:
    entry = entry_from_metadata(metadata("foo", "1.0.0", links="z", rust_version="1.70"), CKSUM)
    assert entry["links"] == "z"
    assert entry["rust_version"] == "1.70"
    assert "rust_version" not in entry_from_metadata(metadata("foo", "1.0.0"), CKSUM)


@pytest.mark.parametrize(
    "fields",
    [
        {"deps": {"bar": "1"}},
        {"deps": "bar"},
        {"deps": ["bar"]},
        {"deps": [dep("bar", optional="yes")]},
        {"deps": [dep("bar", default_features=1)]},
        {"deps": [dep("bar", kind="runtime")]},
        {"deps": [dep("bar", kind=["dev"])]},
        {"deps": [dep("bar", req=None)]},
        {"deps": [dep("bar", features="x")]},
        {"deps": [dep("bar", features=[1])]},
        {"deps": [dep("bar", target=5)]},
        {"deps": [dep("bar", registry=["x"])]},
        {"deps": [dep("not a name")]},
        {"deps": [dep("bar", explicit_name_in_toml="../x")]},
        {"features": []},
        {"features": {"a": "b"}},
        {"features": {"a": [1]}},
        {"features": {"a": None}},
        {"links": 3},
        {"rust_version": 1.7},
        {"name": "../etc"},
        {"name": None},
        {"vers": None},
        {"vers": 1},
    ],
)
def test_wrong_types_are_invalid(fields: dict) -> None:
    with pytest.raises(InvalidCrate):
        entry_from_metadata({**metadata("foo", "1.0.0"), **fields}, CKSUM)


# -- from a packaged Cargo.toml -----------------------------------------------------------

PACKAGED = """
[package]
edition = "2021"
name = "widget"
version = "0.3.0"
links = "widget-sys"
rust-version = "1.74"
description = "A widget"

[dependencies.plain]
version = "0.1.0"

[dependencies.alias]
version = "^2"
package = "real-name"

[dependencies.own]
version = "1.0.0"
registry-index = "sparse+http://registry.test/index/"

[dependencies.own-git]
version = "1.0.0"
registry-index = "http://registry.test/git/index"

[dependencies.elsewhere]
version = "3"
registry-index = "https://other.example/index"

[dependencies.opt]
version = "1"
optional = true
default-features = false
features = ["a", "b"]

[target.'cfg(unix)'.dependencies.unixy]
version = "0.2"

[target.'cfg(windows)'.build-dependencies.winbuild]
version = "0.5"

[dev-dependencies.tester]
version = "1.1"

[build-dependencies.cc]
version = "1.0"

[features]
default = ["opt"]
fancy = ["dep:opt", "plain/x"]
weak = ["opt?/y"]
"""


@pytest.fixture
def manifest_entry() -> dict:
    """The entry built from the PACKAGED manifest."""
    return entry_from_manifest(tomllib.loads(PACKAGED), CKSUM, OWN_URLS)


def deps_by_name(entry: dict) -> dict[str, dict]:
    """`entry`'s dependencies keyed by their (toml) name."""
    return {d["name"]: d for d in entry["deps"]}


def test_manifest_package_fields(manifest_entry: dict) -> None:
    assert manifest_entry["name"] == "widget"
    assert manifest_entry["vers"] == "0.3.0"
    assert manifest_entry["cksum"] == CKSUM
    assert manifest_entry["links"] == "widget-sys"
    assert manifest_entry["rust_version"] == "1.74"
    assert manifest_entry["yanked"] is False


def test_manifest_dependency_without_registry_index_is_from_crates_io(manifest_entry: dict) -> None:
    assert deps_by_name(manifest_entry)["plain"] == {
        "name": "plain",
        "req": "^0.1.0",
        "features": [],
        "optional": False,
        "default_features": True,
        "target": None,
        "kind": "normal",
        "registry": CRATES_IO_INDEX,
    }


def test_manifest_dependency_from_this_registry_has_no_registry_key(manifest_entry: dict) -> None:
    deps = deps_by_name(manifest_entry)
    assert "registry" not in deps["own"]
    assert "registry" not in deps["own-git"]


def test_manifest_dependency_from_another_registry_keeps_its_url(manifest_entry: dict) -> None:
    assert deps_by_name(manifest_entry)["elsewhere"]["registry"] == "https://other.example/index"


def test_manifest_renamed_dependency(manifest_entry: dict) -> None:
    alias = deps_by_name(manifest_entry)["alias"]
    assert (alias["name"], alias["package"], alias["req"]) == ("alias", "real-name", "^2")


# -- read from another registry -------------------------------------------------------------

UPSTREAM = {
    "name": "serde",
    "vers": "1.0.0",
    "deps": [{"name": "serde_derive", "req": "=1.0.0", "kind": None, "public": False}],
    "cksum": CKSUM,
    "features2": None,
    "yanked": False,
    "v": 2,
    "pubtime": "2017-04-20T00:00:00Z",
}


def test_an_upstream_entry_is_kept_as_it_is() -> None:
    assert check_entry(UPSTREAM) is UPSTREAM
    assert check_entry({"name": "a", "vers": "0.1.0", "deps": [], "cksum": CKSUM}) == {
        "name": "a",
        "vers": "0.1.0",
        "deps": [],
        "cksum": CKSUM,
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"deps": None},
        {"deps": [{"name": "serde_derive", "req": "1", "kind": 0}]},
        {"deps": [{"name": "serde_derive", "req": "1", "kind": "runtime"}]},
        {"features2": []},
        {"v": "2"},
        {"v": True},
        {"pubtime": 1492646400},
        {"pubtime": "2017-04-20\n"},
        {"cksum": "AB" * 32},
    ],
)
def test_an_upstream_entry_of_the_wrong_types_is_refused(fields: dict) -> None:
    with pytest.raises(InvalidCrate):
        check_entry({**UPSTREAM, **fields})


def test_an_upstream_entry_must_be_an_object_with_deps() -> None:
    with pytest.raises(InvalidCrate, match="table/object"):
        check_entry([UPSTREAM])
    with pytest.raises(InvalidCrate, match="`deps` must be a list"):
        check_entry({key: value for key, value in UPSTREAM.items() if key != "deps"})


@pytest.mark.parametrize(
    ("written", "published"),
    [
        ("0.1", "^0.1"),
        ("1.2.3", "^1.2.3"),
        ("^1", "^1"),
        ("~1.2", "~1.2"),
        ("=1.0.0", "=1.0.0"),
        (">=1, <2", ">=1, <2"),
        ("1.0,<1.5", "^1.0, <1.5"),
        ("*", "*"),
        ("1.*", "1.*"),
    ],
)
def test_manifest_requirements_are_written_as_cargo_publishes_them(written: str, published: str) -> None:
    manifest = {"package": {"name": "foo", "version": "1.0.0"}, "dependencies": {"bar": written}}
    assert only_dep(entry_from_manifest(manifest, CKSUM, OWN_URLS))["req"] == published


def test_manifest_dependency_without_version_requires_any() -> None:
    manifest = {"package": {"name": "foo", "version": "1.0.0"}, "dependencies": {"bar": {"features": ["x"]}}}
    assert only_dep(entry_from_manifest(manifest, CKSUM, OWN_URLS))["req"] == "*"


def test_manifest_flags(manifest_entry: dict) -> None:
    opt = deps_by_name(manifest_entry)["opt"]
    assert (opt["optional"], opt["default_features"], opt["features"]) == (True, False, ["a", "b"])


def test_manifest_kinds_and_targets(manifest_entry: dict) -> None:
    deps = deps_by_name(manifest_entry)
    assert (deps["unixy"]["kind"], deps["unixy"]["target"]) == ("normal", "cfg(unix)")
    assert (deps["winbuild"]["kind"], deps["winbuild"]["target"]) == ("build", "cfg(windows)")
    assert (deps["tester"]["kind"], deps["tester"]["target"]) == ("dev", None)
    assert (deps["cc"]["kind"], deps["cc"]["target"]) == ("build", None)
    assert len(manifest_entry["deps"]) == 10


def test_manifest_features(manifest_entry: dict) -> None:
    assert manifest_entry["features"] == {"default": ["opt"]}
    assert manifest_entry["features2"] == {"fancy": ["dep:opt", "plain/x"], "weak": ["opt?/y"]}
    assert manifest_entry["v"] == 2


def test_manifest_own_url_matches_with_or_without_trailing_slash() -> None:
    manifest = tomllib.loads(
        PACKAGED.replace('"sparse+http://registry.test/index/"', '"sparse+http://registry.test/index"')
    )
    assert "registry" not in deps_by_name(entry_from_manifest(manifest, CKSUM, OWN_URLS))["own"]


def test_manifest_without_own_urls_keeps_every_registry() -> None:
    entry = entry_from_manifest(tomllib.loads(PACKAGED), CKSUM, [])
    assert deps_by_name(entry)["own"]["registry"] == "sparse+http://registry.test/index/"


def test_manifest_string_dependency_and_underscore_tables() -> None:
    manifest = {
        "package": {"name": "foo", "version": "1.0.0"},
        "dependencies": {"bar": "1.2"},
        "dev_dependencies": {"baz": {"version": "3"}},
    }
    entry = entry_from_manifest(manifest, CKSUM, OWN_URLS)
    deps = deps_by_name(entry)
    assert (deps["bar"]["req"], deps["bar"]["kind"]) == ("^1.2", "normal")
    assert deps["baz"]["kind"] == "dev"
    assert "rust_version" not in entry and entry["links"] is None


@pytest.mark.parametrize(
    "manifest",
    [
        {"package": {"name": "foo"}},
        {"package": {"version": "1.0.0"}},
        {"package": {"name": "foo", "version": "1.0.0"}, "dependencies": ["bar"]},
        {"package": {"name": "foo", "version": "1.0.0"}, "dependencies": {"bar": 1}},
        {"package": {"name": "foo", "version": "1.0.0"}, "dependencies": {"bar": {"optional": "yes"}}},
        {"package": {"name": "foo", "version": "1.0.0"}, "dependencies": {"bar": {"version": 1}}},
        {"package": {"name": "foo", "version": "1.0.0"}, "dependencies": {"bar": {"features": "x"}}},
        {"package": {"name": "foo", "version": "1.0.0"}, "dependencies": {"bar": {"package": "a/b"}}},
        {"package": {"name": "foo", "version": "1.0.0"}, "dependencies": {"bar": {"registry-index": 5}}},
        {"package": {"name": "foo", "version": "1.0.0"}, "dependencies": {"bar": {"registry-index": ["u"]}}},
        {"package": {"name": "foo", "version": "1.0.0"}, "features": {"x": "y"}},
        {"package": {"name": "foo", "version": "1.0.0"}, "target": {"cfg(unix)": []}},
        {"package": {"name": "foo", "version": "1.0.0", "links": 1}},
    ],
)
def test_manifest_wrong_types_are_invalid(manifest: dict) -> None:
    with pytest.raises(InvalidCrate):
        entry_from_manifest(manifest, CKSUM, OWN_URLS)


# -- lines ----------------------------------------------------------------------------------


def test_dump_line_is_one_compact_line() -> None:
    entry = make_entry(
        name="foo", vers="1.0.0", deps=[], cksum=CKSUM, features={"ü": []}, links=None, rust_version=None
    )
    line = dump_line(entry)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert b", " not in line and b": " not in line
    assert "ü".encode() in line


def test_dump_and_parse_round_trip(manifest_entry: dict) -> None:
    entries = [manifest_entry, entry_from_metadata(metadata("foo", "1.0.0-rc.1+b"), CKSUM)]
    assert parse_lines(dump_lines(entries)) == entries
    assert parse_lines(dump_line(entries[0])) == [entries[0]]
    assert parse_lines(b"") == []
    assert parse_lines(dump_lines(entries) + b"\n  \n") == entries


@pytest.mark.parametrize(
    ("written", "published"),
    [
        ("0.1", "^0.1"),
        ("1.2.3", "^1.2.3"),
        ("2.0.0-xyz", "^2.0.0-xyz"),
        ("=0.1.1", "=0.1.1"),
        ("1.*", "1.*"),
        ("1.x", "1.x"),
        ("*", "*"),
        (">=1, <2", ">=1, <2"),
        ("1.2,<1.5", "^1.2, <1.5"),
    ],
)
def test_cargo_req_writes_requirements_as_cargo_publishes_them(written: str, published: str) -> None:
    assert cargo_req(written) == published


def test_a_dependency_may_be_renamed_to_a_name_reserved_for_crates() -> None:
    """`core = { package = "rustc-std-workspace-core", optional = true }`, as in cfg-if, memchr, hashbrown."""
    manifest = {
        "package": {"name": "foo", "version": "1.0.0"},
        "dependencies": {"core": {"version": "1.0.0", "optional": True, "package": "rustc-std-workspace-core"}},
    }
    from_manifest = only_dep(entry_from_manifest(manifest, CKSUM, []))
    meta = metadata(
        "foo", "1.0.0", deps=[dep("rustc-std-workspace-core", "^1.0.0", optional=True, explicit_name_in_toml="core")]
    )
    from_metadata = only_dep(entry_from_metadata(meta, CKSUM))
    assert (from_manifest["name"], from_manifest["package"]) == ("core", "rustc-std-workspace-core")
    assert (from_metadata["name"], from_metadata["package"]) == ("core", "rustc-std-workspace-core")
    with pytest.raises(InvalidCrate, match="starting with a letter or `_`"):
        entry_from_manifest({**manifest, "dependencies": {"1core": {"version": "1.0", "package": "core"}}}, CKSUM, [])
