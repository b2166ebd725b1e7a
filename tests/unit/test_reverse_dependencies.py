"""The reverse dependencies table: kept by every write that changes a crate's shown version or its
dependencies (publish, add, yank, unyank, remove), built once for a registry made before it, rebuilt by
repair, ordered by downloads then name."""

import sqlite3

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import NotFound
from palletizer_lib.domain.urls import CRATES_IO_INDEX
from palletizer_lib.stores.catalog import Catalog
from tests.support.cratekit import crate_for, dep, metadata


def _publish(registry: Registry, name: str, vers: str, *deps: dict) -> None:
    meta = metadata(name, vers, deps=list(deps))
    registry.publish(meta, crate_for(meta))


def _dependents(registry: Registry, name: str, limit: int = 100, offset: int = 0) -> list[tuple[str, str, str]]:
    return [(d.name, d.entry["vers"], d.dependency["req"]) for d in registry.dependents(name, limit, offset)[1]]


def test_publish_yank_unyank_and_remove_keep_the_table(registry: Registry) -> None:
    _publish(registry, "base", "1.0.0")
    assert _dependents(registry, "base") == []
    _publish(registry, "user", "1.0.0", dep("base", "^1.0"), dep("base", "^1", kind="dev"))
    assert _dependents(registry, "base") == [("user", "1.0.0", "^1.0")]
    assert registry.dependents("BASE", 100)[0] == 1
    _publish(registry, "user", "1.1.0")
    assert _dependents(registry, "base") == []
    registry.set_yanked("user", "1.1.0", True)
    assert _dependents(registry, "base") == [("user", "1.0.0", "^1.0")]
    registry.set_yanked("user", "1.1.0", False)
    assert _dependents(registry, "base") == []
    registry.remove("user", "1.1.0")
    assert _dependents(registry, "base") == [("user", "1.0.0", "^1.0")]
    registry.remove("user", "1.0.0")
    assert _dependents(registry, "base") == []


def test_an_added_crate_file_is_listed_and_another_registry_s_crate_is_not(registry: Registry) -> None:
    _publish(registry, "base", "1.0.0")
    meta = metadata("added", "0.1.0", deps=[dep("base", "^1")])
    registry.add(crate_for(meta))
    _publish(registry, "elsewhere", "1.0.0", dep("base", "^1", registry=CRATES_IO_INDEX))
    assert _dependents(registry, "base") == [("added", "0.1.0", "^1")]
    with pytest.raises(NotFound):
        registry.dependents("no-such-crate", 10)


def test_pages_by_downloads_then_name(registry: Registry) -> None:
    _publish(registry, "hub", "1.0.0")
    for name in ("d-crate", "b-crate", "a-crate", "c-crate"):
        _publish(registry, name, "1.0.0", dep("hub", "^1"))
    Catalog(registry.layout.catalog).add_downloads({("c-crate", "1.0.0"): 5, ("b-crate", "1.0.0"): 2})
    assert [name for name, _, _ in _dependents(registry, "hub")] == ["c-crate", "b-crate", "a-crate", "d-crate"]
    total, page = registry.dependents("hub", 2, 2)
    assert total == 4 and [d.name for d in page] == ["a-crate", "d-crate"]


def _forget_the_table(registry: Registry) -> None:
    with sqlite3.connect(registry.layout.catalog) as db:
        db.execute("DROP TABLE schema_version")
        db.execute("DROP TABLE reverse_dependencies_state")
        db.execute("DELETE FROM reverse_dependencies")


def test_a_registry_made_before_the_table_gets_it_once_on_first_use(registry: Registry) -> None:
    _publish(registry, "base", "1.0.0")
    _publish(registry, "user", "1.0.0", dep("base", "^1"))
    _forget_the_table(registry)
    reopened = Registry(registry.layout.root)
    assert not reopened.index.reverse_dependencies.is_built()
    assert _dependents(reopened, "base") == [("user", "1.0.0", "^1")]
    assert reopened.index.reverse_dependencies.is_built()
    with sqlite3.connect(registry.layout.catalog) as db:
        db.execute("DELETE FROM reverse_dependencies")
    assert _dependents(Registry(registry.layout.root), "base") == []


def test_repair_rebuilds_the_table(registry: Registry) -> None:
    _publish(registry, "base", "1.0.0")
    _publish(registry, "user", "1.0.0", dep("base", "^1"))
    with sqlite3.connect(registry.layout.catalog) as db:
        db.execute("DELETE FROM reverse_dependencies")
    assert _dependents(registry, "base") == []
    registry.repair()
    assert _dependents(registry, "base") == [("user", "1.0.0", "^1")]
