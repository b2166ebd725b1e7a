"""The search table: kept by every write that changes a crate, built once for a registry made before it,
rebuilt by repair, and a crate described by the version search shows."""

import json
import sqlite3
from pathlib import Path

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.catalog import Catalog
from tests.support.cratekit import make_crate, metadata


def _publish(registry: Registry, name: str, vers: str, description: str) -> None:
    """Publish as the web API does: the index entry, then the catalog's row (which holds the description)."""
    meta = metadata(name, vers, description=description)
    registry.publish(meta, make_crate(name, vers))
    Catalog(registry.layout.catalog).record_version(name, vers, None, meta)


def _found(registry: Registry, query: str) -> list[tuple[str, str, str]]:
    return [(s.name, s.max_version, s.description) for s in registry.search(query, 100)[1]]


def test_a_backport_leaves_the_description_of_the_newest_version(tmp_path: Path) -> None:
    registry = Registry.create(tmp_path / "data", RegistryConfig())
    _publish(registry, "widget", "2.0.0", "the new widget")
    _publish(registry, "widget", "1.5.0", "the old widget")
    assert _found(registry, "widget") == [("widget", "2.0.0", "the new widget")]
    assert _found(registry, "old") == []
    _publish(registry, "widget", "2.1.0", "the newer widget")
    assert _found(registry, "newer") == [("widget", "2.1.0", "the newer widget")]


def test_yank_remove_and_short_queries_are_seen_by_search(tmp_path: Path) -> None:
    registry = Registry.create(tmp_path / "data", RegistryConfig())
    _publish(registry, "ab", "1.0.0", "two letters")
    _publish(registry, "ab", "1.1.0", "two letters")
    _publish(registry, "abc_def", "0.1.0", "a 50% off crate")
    registry.set_yanked("ab", "1.1.0", True)
    assert _found(registry, "ab")[0] == ("ab", "1.0.0", "two letters")
    assert [name for name, _, _ in _found(registry, "50%")] == ["abc_def"]
    assert [name for name, _, _ in _found(registry, "c-d")] == ["abc_def"]
    assert _found(registry, "_") == [("abc_def", "0.1.0", "a 50% off crate")]
    registry.remove("abc_def", "0.1.0")
    assert _found(registry, "abc") == []


def test_a_registry_made_before_the_table_gets_it_on_first_search(tmp_path: Path) -> None:
    registry = Registry.create(tmp_path / "data", RegistryConfig())
    _publish(registry, "older", "1.0.0", "made long ago")
    with sqlite3.connect(registry.layout.catalog) as db:
        db.execute("DROP TABLE schema_version")
        db.execute("DROP TABLE crate_search_state")
        db.execute("DELETE FROM crate_search")
        db.execute("DELETE FROM crate_text")
    assert _found(Registry(registry.layout.root), "long ago") == [("older", "1.0.0", "made long ago")]


def test_repair_rebuilds_the_table(tmp_path: Path) -> None:
    registry = Registry.create(tmp_path / "data", RegistryConfig())
    _publish(registry, "kept", "1.0.0", "still here")
    with sqlite3.connect(registry.layout.catalog) as db:
        db.execute("DELETE FROM crate_search")
        db.execute("DELETE FROM crate_text")
    assert _found(registry, "kept") == []
    registry.repair()
    assert _found(registry, "kept") == [("kept", "1.0.0", "still here")]


def test_list_order_follows_the_catalog_s_publication_times(tmp_path: Path) -> None:
    registry = Registry.create(tmp_path / "data", RegistryConfig())
    catalog = Catalog(registry.layout.catalog)
    for name, when in (("first", 100.0), ("second", 300.0), ("third", 200.0)):
        registry.publish(metadata(name, "1.0.0"), make_crate(name, "1.0.0"))
        catalog.record_version(name, "1.0.0", None, {}, published=when)
    total, shown = registry.search("", 2, sort="recent")
    assert total == 3 and [s.name for s in shown] == ["second", "third"]
    assert [s.name for s in registry.search("", 2, 2, sort="recent")[1]] == ["first"]
    catalog.forget_version("second", "1.0.0")
    registry.remove("second", "1.0.0")
    assert [s.name for s in registry.search("", 5, sort="recent")[1]] == ["third", "first"]


def test_repair_rebuilds_a_deleted_summary_with_the_catalog_s_description(tmp_path: Path) -> None:
    registry = Registry.create(tmp_path / "data", RegistryConfig())
    _publish(registry, "kept", "1.0.0", "still here")
    registry.layout.summary_file("kept").unlink()
    assert "rewrote names/kept.json from the git index" in registry.repair()
    assert _found(registry, "still") == [("kept", "1.0.0", "still here")]
    assert [s.description for s in registry.summaries()] == ["still here"]
    assert registry.repair() == [], "a second repair finds nothing"


def test_a_summary_holds_only_what_the_index_says(tmp_path: Path) -> None:
    registry = Registry.create(tmp_path / "data", RegistryConfig())
    _publish(registry, "plain", "1.0.0", "described in the catalog")
    assert json.loads(registry.layout.summary_file("plain").read_bytes()) == {"name": "plain", "max_version": "1.0.0"}


def test_a_yank_describes_the_crate_by_the_version_now_shown(tmp_path: Path) -> None:
    registry = Registry.create(tmp_path / "data", RegistryConfig())
    _publish(registry, "widget", "1.0.0", "the old widget")
    _publish(registry, "widget", "2.0.0", "the new widget")
    registry.set_yanked("widget", "2.0.0", True)
    assert _found(registry, "widget") == [("widget", "1.0.0", "the old widget")]
    registry.set_yanked("widget", "2.0.0", False)
    assert _found(registry, "widget") == [("widget", "2.0.0", "the new widget")]
