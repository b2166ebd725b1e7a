"""A dependency's names (its package and the key renaming it) follow crates.io's rules for dependency
names, not those for registering a new crate: reserved and Windows device names, a leading `_`, upper case,
`-` and `_` all pass; features may name such dependencies with `dep:`, `/` and `?/`."""

from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import InvalidCrate
from palletizer_lib.domain.index_entry import entry_from_manifest, entry_from_metadata
from palletizer_lib.domain.names import validate_dependency_name
from palletizer_lib.domain.urls import CRATES_IO_INDEX
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cratekit import dep, make_crate, metadata

CKSUM = "cd" * 32
OTHER = "https://other.example/index"
ACCEPTED = [
    "core",
    "std",
    "alloc",
    "test",
    "proc_macro",
    "proc-macro",
    "nul",
    "CON",
    "lpt1",
    "_private",
    "Inflector",
    "serde_json",
    "tokio-util",
    "a",
    "Mixed_Case-name",
    "x" * 64,
]
REFUSED = ["", "1password", "-dash", "ünicode", "with space", "dots.name", "x" * 65, 7, None]


@pytest.mark.parametrize("name", ACCEPTED)
def test_existing_crate_names_are_accepted_as_a_dependency_and_as_its_rename(name: str) -> None:
    manifest = {
        "package": {"name": "app", "version": "1.0.0"},
        "dependencies": {
            name: {"version": "1", "registry-index": OTHER},
            f"r{name}"[:64]: {"version": "1", "package": name, "registry-index": OTHER},
        },
        "features": {"extra": [f"dep:{name}", f"{name}?/std", f"r{name}"[:64] + "/std"]},
    }
    entry = entry_from_manifest(manifest, CKSUM, [])
    assert [(d["name"], d.get("package")) for d in entry["deps"]] == [(name, None), (f"r{name}"[:64], name)]
    assert entry["features2"] == manifest["features"]
    meta = metadata(
        "app",
        "1.0.0",
        deps=[dep(name, "^1", registry=OTHER), dep(name, "^1", registry=OTHER, explicit_name_in_toml=f"r{name}"[:64])],
        features=manifest["features"],
    )
    assert entry_from_metadata(meta, CKSUM)["deps"] == entry["deps"]


@pytest.mark.parametrize("name", REFUSED, ids=repr)
def test_names_crates_io_refuses_for_a_dependency_are_refused(name: object) -> None:
    with pytest.raises(InvalidCrate, match="invalid dependency name"):
        validate_dependency_name(name)
    with pytest.raises(InvalidCrate, match="invalid dependency name"):
        entry_from_metadata(metadata("app", "1.0.0", deps=[dep(name, "^1")]), CKSUM)
    if isinstance(name, str) and name:
        with pytest.raises(InvalidCrate, match="invalid dependency name"):
            entry_from_metadata(metadata("app", "1.0.0", deps=[dep("real", "^1", explicit_name_in_toml=name)]), CKSUM)
        manifest = {"package": {"name": "app", "version": "1.0.0"}}
        renamed = {"version": "1", "package": "real"}
        for deps in ({name: "1"}, {"key": {"version": "1", "package": name}}, {name: renamed}):
            with pytest.raises(InvalidCrate, match="invalid dependency name"):
                entry_from_manifest({**manifest, "dependencies": deps}, CKSUM, [])


def test_a_crate_depending_on_crates_with_reserved_names_is_added_and_published(tmp_path: Path) -> None:
    """The packaged Cargo.toml and the publish metadata both go through these rules, and agree."""
    registry = Registry.create(tmp_path / "data", RegistryConfig(public_url="http://registry.test"))
    extra = (
        '[dependencies.nul]\nversion = "1"\n\n[dependencies.std]\nversion = "1"\npackage = "_private"\n\n'
        '[features]\nall = ["dep:nul", "std/x"]\n'
    )
    added = registry.add(make_crate("uses-reserved", "1.0.0", extra))
    assert [(d["name"], d.get("package")) for d in added["deps"]] == [("nul", None), ("std", "_private")]
    deps = [
        dep("nul", "^1", registry=CRATES_IO_INDEX),
        dep("_private", "^1", registry=CRATES_IO_INDEX, explicit_name_in_toml="std"),
    ]
    meta = metadata("uses-reserved", "2.0.0", deps=deps, features={"all": ["dep:nul", "std/x"]})
    published = registry.publish(meta, make_crate("uses-reserved", "2.0.0", extra))
    assert published["deps"] == added["deps"] and published["features2"] == {"all": ["dep:nul", "std/x"]}
