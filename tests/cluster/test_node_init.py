"""A node whose data directory is made by its own `palletizer init --exist-ok` over the bucket and database of a
registry already serving, as each pod's init container does (deploy/): it serves that registry, and its init
changes nothing there."""

from pathlib import Path

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.settings.storage import StorageConfig
from tests.support.cluster import backend_options
from tests.support.cratekit import make_crate, metadata
from tests.support.server import palletizer


def node_init(data: Path, storage: StorageConfig, database: str) -> None:
    palletizer(
        data,
        "init",
        "--exist-ok",
        *backend_options(storage, database),
        "--public-url",
        "http://registry.test",
    )


def test_a_node_made_by_its_own_init_serves_the_registry(
    tmp_path: Path, s3_config: StorageConfig, postgres_url: str
) -> None:
    node_init(tmp_path / "node1", s3_config, postgres_url)
    first = Registry(tmp_path / "node1")
    crates = {version: make_crate("early", version) for version in ("1.0.0", "1.1.0")}
    for version, crate in crates.items():
        first.publish(metadata("early", version), crate)
    palletizer(tmp_path / "node1", "user", "add", "alice")
    head = first.served_git().head()

    node_init(tmp_path / "node2", s3_config, postgres_url)
    node_init(tmp_path / "node1", s3_config, postgres_url)
    second = Registry(tmp_path / "node2")
    assert [entry["vers"] for entry in second.entries("early")] == ["1.0.0", "1.1.0"]
    assert second.stored_crate("early", "1.1.0") == crates["1.1.0"]
    assert second.served_git().head() == first.served_git().head() == head
    assert second.served_git().read(index_path("early")) == first.served_git().read(index_path("early"))
    assert second.served_index_file("early").data == first.served_index_file("early").data
    assert "alice" in palletizer(tmp_path / "node2", "user", "list").stdout.split()
    assert first.search_index.is_built() and second.verify() == []
