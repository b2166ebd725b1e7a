"""`check_manifest_matches`: a packaged Cargo.toml spelled as `cargo package` writes it agrees with the
metadata cargo sends; any dependency, feature or `links` that differs is named."""

import tomllib

import pytest

from palletizer_lib.domain.errors import InvalidCrate
from palletizer_lib.domain.index_entry import entry_from_metadata
from palletizer_lib.domain.manifest import check_manifest_matches, normalise_req
from palletizer_lib.domain.urls import CRATES_IO_INDEX
from tests.support.cratekit import dep, manifest_for, metadata

OWN = ["sparse+http://registry.test/index/", "http://registry.test/git/index"]
CKSUM = "ab" * 32


def check(sent: dict, toml: str, own: list[str] = OWN) -> None:
    check_manifest_matches(tomllib.loads(toml), entry_from_metadata(sent, CKSUM), own)


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        ("0.1", "^0.1"),
        ("=1.0.0", "=1.0.0"),
        (">= 0.1, < 0.2", ">=0.1, <0.2"),
        ("1.x", "1.*"),
        ("*", "*"),
        ("~1.2", "~1.2"),
        ("1.0.0-alpha.1", "^1.0.0-alpha.1"),
        ("^ 1", "^1"),
    ],
)
def test_requirements_are_compared_as_cargo_spells_them(written: str, sent: str) -> None:
    assert normalise_req(written) == normalise_req(sent)


@pytest.mark.parametrize(
    "index",
    ["sparse+http://registry.test/index/", "sparse+http://registry.test/index", "http://registry.test/git/index"],
)
def test_this_registry_by_any_of_its_index_urls(index: str) -> None:
    sent = metadata("foo", "1.0.0", deps=[dep("bar", "^1")])
    check(sent, manifest_for(sent, index_url=index))


def test_an_unknown_index_url_is_not_this_registry() -> None:
    sent = metadata("foo", "1.0.0", deps=[dep("bar", "^1")])
    with pytest.raises(
        InvalidCrate,
        match="registry sparse\\+http://elsewhere.test/index in Cargo.toml but this registry in the metadata",
    ):
        check(sent, manifest_for(sent, index_url="sparse+http://elsewhere.test/index/"))


@pytest.mark.parametrize("crates_io", [CRATES_IO_INDEX, "sparse+https://index.crates.io/"])
def test_crates_io_by_either_of_its_urls(crates_io: str) -> None:
    sent = metadata("foo", "1.0.0", deps=[dep("serde", "^1", registry=crates_io)])
    check(sent, manifest_for(metadata("foo", "1.0.0", deps=[dep("serde", "1", registry=CRATES_IO_INDEX)])))


def test_order_does_not_matter() -> None:
    sent = metadata(
        "foo",
        "1.0.0",
        features={"a": ["b", "c"], "b": []},
        deps=[dep("x", "^1", features=["p", "q"]), dep("y", "^1", kind="dev")],
    )
    packaged = metadata(
        "foo",
        "1.0.0",
        features={"b": [], "a": ["c", "b"]},
        deps=[dep("y", "^1", kind="dev"), dep("x", "^1", features=["q", "p"])],
    )
    check(sent, manifest_for(packaged))


def test_a_dependency_in_two_kinds_and_targets() -> None:
    deps = [dep("x", "^1"), dep("x", "^1", kind="dev"), dep("x", "^2", target="cfg(unix)")]
    sent = metadata("foo", "1.0.0", deps=deps)
    check(sent, manifest_for(sent))
    with pytest.raises(InvalidCrate, match="dependency `x` for target `cfg\\(unix\\)` is in the metadata but not"):
        check(sent, manifest_for(metadata("foo", "1.0.0", deps=deps[:2])))


def test_a_dependency_given_twice_in_the_metadata() -> None:
    sent = metadata("foo", "1.0.0", deps=[dep("x", "^1"), dep("x", "^1")])
    with pytest.raises(InvalidCrate, match="dependency `x` is given 2 times in the metadata and 1 in Cargo.toml"):
        check(sent, manifest_for(metadata("foo", "1.0.0", deps=[dep("x", "^1")])))


def test_many_differences_are_cut_short() -> None:
    packaged = metadata(
        "foo", "1.0.0", deps=[dep(f"d{i}", "^1", registry="https://evil.example/index") for i in range(20)]
    )
    with pytest.raises(InvalidCrate) as refused:
        check(metadata("foo", "1.0.0"), manifest_for(packaged))
    assert refused.value.detail.endswith("; and 15 more") and refused.value.detail.count("`d") == 5


def test_rust_version_is_compared_when_the_metadata_gives_one() -> None:
    toml = manifest_for(metadata("foo", "1.0.0", rust_version="1.60"))
    check(metadata("foo", "1.0.0"), toml)
    check(metadata("foo", "1.0.0", rust_version="1.60"), toml)
    with pytest.raises(InvalidCrate, match="`rust-version` is `1.60` in Cargo.toml but `1.70` in the metadata"):
        check(metadata("foo", "1.0.0", rust_version="1.70"), toml)
