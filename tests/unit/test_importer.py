"""`import_directory`: every .crate under a directory, in dependency order, skipping what is present."""

from pathlib import Path

import pytest

from palletizer_lib.admin.importer import ADDED, REFUSED, SKIPPED, ImportReport, dependency_order, import_directory
from palletizer_lib.core.actor import LOCAL, Actor
from palletizer_lib.core.composition import compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import NotFound
from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from tests.support.cratekit import make_crate

OWN_INDEX = "sparse+http://registry.test/index/"  # the `registry` fixture's own index


def dependency(table: str, name: str, index: str | None = OWN_INDEX) -> str:
    """A dependency table of a packaged Cargo.toml (`index` None: crates.io)."""
    return f'\n[{table}.{name}]\nversion = "0.1"\n' + (f'registry-index = "{index}"\n' if index else "")


def write(
    directory: Path,
    relative: str,
    name: str,
    version: str,
    manifest_extra: str = "",
    files: dict[str, bytes] | None = None,
) -> Path:
    path = directory / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make_crate(name, version, manifest_extra, files))
    return path


def run(registry: Registry, directory: Path, owner: str | None = None) -> ImportReport:
    return import_directory(compose(registry).operations, directory, actor=Actor("test", LOCAL), owner=owner)


def outcomes(report: ImportReport) -> list[tuple[str, str | None, str | None]]:
    return [(o.result, o.name, o.version) for o in report.outcomes]


def test_crates_come_after_their_dependencies_in_the_directory(registry: Registry, tmp_path: Path) -> None:
    source = tmp_path / "vendor"
    # Sorted by path, `app` would come first and `zeta` last: the order must come from the dependencies.
    write(
        source,
        "a/app-1.0.0.crate",
        "app",
        "1.0.0",
        dependency("dependencies", "zeta") + dependency("build-dependencies", "mid"),
    )
    write(source, "b/mid-0.1.0.crate", "mid", "0.1.0", dependency("dependencies", "zeta"))
    write(source, "c/d/zeta-0.2.0.crate", "zeta", "0.2.0")
    write(source, "zeta-0.1.0.crate", "zeta", "0.1.0")
    # Neither a dev-dependency nor a dependency on another registry (here crates.io) orders anything.
    write(source, "aaa-0.1.0.crate", "aaa", "0.1.0", dependency("dev-dependencies", "app"))
    write(source, "other-0.1.0.crate", "other", "0.1.0", dependency("dependencies", "zeta", index=None))
    (source / "notes.txt").write_text("not a crate")

    report = run(registry, source)

    assert outcomes(report) == [
        (ADDED, "aaa", "0.1.0"),
        (ADDED, "other", "0.1.0"),
        (ADDED, "zeta", "0.1.0"),
        (ADDED, "zeta", "0.2.0"),
        (ADDED, "mid", "0.1.0"),
        (ADDED, "app", "1.0.0"),
    ]
    assert [e["vers"] for e in registry.entries("zeta")] == ["0.1.0", "0.2.0"]
    assert registry.verify() == []


def test_a_dependency_cycle_between_versions_is_broken_at_its_smallest_crate() -> None:
    def entry(name: str, vers: str, *deps: str) -> tuple[Path, dict]:
        return Path(f"{name}-{vers}.crate"), {
            "name": name,
            "vers": vers,
            "deps": [{"name": d, "kind": "normal"} for d in deps],
        }

    # b 0.1.0 needs a (any version in the list), a 0.2.0 needs b: no order satisfies both.
    ordered = dependency_order([entry("b", "0.1.0", "a"), entry("a", "0.2.0", "b"), entry("a", "0.1.0")])
    assert [(e["name"], e["vers"]) for _, e in ordered] == [("a", "0.1.0"), ("a", "0.2.0"), ("b", "0.1.0")]


def test_importing_the_same_directory_twice_changes_nothing(registry: Registry, tmp_path: Path) -> None:
    source = tmp_path / "vendor"
    write(source, "base-1.0.0.crate", "base", "1.0.0")
    write(source, "top-1.0.0.crate", "top", "1.0.0", dependency("dependencies", "base"))
    first = run(registry, source)
    assert (first.count(ADDED), first.count(SKIPPED), first.count(REFUSED)) == (2, 0, 0)
    head = registry.log.head()
    audit = Accounts(registry.layout.accounts).audit(100)

    again = run(registry, source)

    assert outcomes(again) == [(SKIPPED, "base", "1.0.0"), (SKIPPED, "top", "1.0.0")]
    assert {o.reason for o in again.outcomes} == {"already present with these exact bytes"}
    assert registry.log.head() == head
    assert Accounts(registry.layout.accounts).audit(100) == audit


def test_what_cannot_be_added_is_refused_with_the_reason(registry: Registry, tmp_path: Path) -> None:
    taken = make_crate("taken", "1.0.0")
    registry.add(taken)
    source = tmp_path / "vendor"
    write(source, "taken-1.0.0.crate", "taken", "1.0.0", files={"README": b"other bytes"})
    (source / "broken.crate").write_bytes(b"not a gzip archive")
    write(
        source,
        "foreign-1.0.0.crate",
        "foreign",
        "1.0.0",
        dependency("dependencies", "elsewhere", index="sparse+https://other.example/index/"),
    )
    write(source, "fine-1.0.0.crate", "fine", "1.0.0")

    report = run(registry, source)

    results = {(o.result, o.name): o.reason for o in report.outcomes}
    assert results.pop((ADDED, "fine")) == ""
    assert "already published" in results.pop((REFUSED, "taken"))
    assert "does not allow" in results.pop((REFUSED, "foreign"))
    [((result, name), reason)] = results.items()
    assert (result, name) == (REFUSED, None) and reason
    assert [o.path.name for o in report.outcomes if o.name is None] == ["broken.crate"]
    assert registry.canonical_name("foreign") is None
    assert registry.stored_crate("taken", "1.0.0") == taken


def test_owner_owns_the_new_crates_and_must_exist(registry: Registry, tmp_path: Path) -> None:
    accounts = Accounts(registry.layout.accounts)
    accounts.add_user("alice")
    source = tmp_path / "vendor"
    write(source, "owned-1.0.0.crate", "owned", "1.0.0")
    with pytest.raises(NotFound, match="no user `bob`"):
        run(registry, source, owner="bob")
    assert registry.canonical_name("owned") is None

    run(registry, source, owner="alice")
    assert accounts.owners("owned") == ["alice"]
    catalog = Catalog(registry.layout.catalog).versions("owned")
    assert catalog["1.0.0"].publisher == "test"


def test_a_missing_directory_is_an_error(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="is not a directory"):
        run(registry, tmp_path / "nowhere")
