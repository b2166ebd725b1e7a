"""`pubtime`: when a version was first published, in its index entry (UTC, whole seconds), written by publish,
add and import, and never changed by yank, unyank, repair, export or the git index. (The catalog keeps its own
publish time, to the fraction of a second, for the pages' order.)"""

import json
from pathlib import Path

import pytest

from palletizer_lib.admin.export import export_static
from palletizer_lib.admin.importer import import_directory
from palletizer_lib.core.actor import LOCAL, Actor
from palletizer_lib.core.composition import compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import AlreadyPublished
from palletizer_lib.domain.index_entry import parse_lines, pubtime, pubtime_seconds
from palletizer_lib.domain.names import index_path
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cratekit import make_crate, metadata

FIRST = 1_767_225_600.9  # 2026-01-01T00:00:00.9Z
LATER = 1_767_312_000.0  # 2026-01-02T00:00:00Z


def test_the_format_is_cargo_s() -> None:
    assert pubtime(FIRST) == "2026-01-01T00:00:00Z"
    assert pubtime_seconds({"pubtime": "2026-01-01T00:00:00Z"}) == 1_767_225_600
    assert pubtime_seconds({}) is None and pubtime_seconds({"pubtime": "yesterday"}) is None


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    registry = Registry.create(tmp_path / "data", RegistryConfig())
    registry.clock = lambda: FIRST
    return registry


def _entries(registry: Registry, name: str) -> list[dict]:
    return parse_lines((registry.layout.index / index_path(name)).read_bytes())


def test_publish_and_add_write_it_and_nothing_changes_it(registry: Registry, tmp_path: Path) -> None:
    crate = make_crate("foo", "1.0.0")
    registry.publish(metadata("foo", "1.0.0"), crate)
    registry.clock = lambda: LATER
    registry.add(make_crate("foo", "1.1.0"))
    assert [e["pubtime"] for e in _entries(registry, "foo")] == ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]
    with pytest.raises(AlreadyPublished) as again:
        registry.publish(metadata("foo", "1.0.0"), crate)
    assert again.value.identical
    registry.set_yanked("foo", "1.0.0", True)
    registry.set_yanked("foo", "1.0.0", False)
    registry.repair()
    [first, second] = _entries(registry, "foo")
    assert (first["pubtime"], second["pubtime"]) == ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    assert [json.loads(line)["pubtime"] for line in registry.log.read(index_path("foo")).splitlines()] == [
        "2026-01-01T00:00:00Z",
        "2026-01-02T00:00:00Z",
    ]
    export_static(registry, tmp_path / "static", "https://cdn.example/")
    assert parse_lines((tmp_path / "static" / "index" / index_path("foo")).read_bytes()) == [first, second]


def test_import_writes_it(registry: Registry, tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "bar-0.1.0.crate").write_bytes(make_crate("bar", "0.1.0"))
    import_directory(compose(registry).operations, vendor, actor=Actor("root", LOCAL))
    [entry] = _entries(registry, "bar")
    assert entry["pubtime"] == "2026-01-01T00:00:00Z"
