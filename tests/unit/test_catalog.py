"""The catalog: version descriptions from publishes and `add`, download counts, removal."""

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.catalog import Catalog
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate, metadata
from tests.support.server import issue_token, running_server


@pytest.fixture
def new_catalog(tmp_path: Path) -> Callable[[], Catalog]:
    """Opens the test's catalog database (again)."""
    return lambda: Catalog(tmp_path / "catalog.sqlite3")


def test_records_described_fields_once_and_counts_downloads(new_catalog: Callable[[], Catalog]) -> None:
    catalog = new_catalog()
    catalog.record_version(
        "Foo_Bar",
        "1.0.0",
        "alice",
        {"description": "d", "readme": "# R", "keywords": [], "badges": {"x": 1}},
        published=100.0,
    )
    catalog.record_version("Foo_Bar", "1.0.0", "mallory", {"description": "other"}, published=200.0)
    catalog.count_download("foo-bar", "1.0.0")
    catalog.count_download("FOO_BAR", "1.0.0")
    info = new_catalog().versions("foo_bar")["1.0.0"]
    assert (info.name, info.publisher, info.published, info.downloads) == ("Foo_Bar", "alice", 100.0, 2)
    assert info.metadata == {"description": "d", "readme": "# R"}
    assert catalog.downloads("foo-bar") == 2 and catalog.last_published() == {"foo-bar": 100.0}
    catalog.forget_version("foo-bar", "1.0.0")
    assert catalog.versions("foo-bar") == {} and catalog.downloads("foo-bar") == 0


def test_a_batch_commits_its_records_together_or_not_at_all(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "catalog.sqlite3")
    reader = sqlite3.connect(tmp_path / "catalog.sqlite3")

    def committed() -> list[str]:
        return [row[0] for row in reader.execute("SELECT crate FROM versions ORDER BY crate")]

    with catalog.batch():
        catalog.record_version("one", "1.0.0", None, {}, published=1.0)
        catalog.record_version("two", "1.0.0", None, {}, published=2.0)
        assert committed() == []
    assert committed() == ["one", "two"]
    with pytest.raises(RuntimeError), catalog.batch():
        catalog.record_version("three", "1.0.0", None, {}, published=3.0)
        raise RuntimeError("interrupted")
    assert committed() == ["one", "two"]
    catalog.record_version("four", "1.0.0", None, {}, published=4.0)
    assert committed() == ["four", "one", "two"]


def test_downloads_by_exact_name_sum_versions_of_crates_published_here_the_others_together(
    new_catalog: Callable[[], Catalog],
) -> None:
    catalog = new_catalog()
    for name, vers in (("Zed_Crate", "1.0.0"), ("Zed_Crate", "2.0.0"), ("alpha", "1.0.0"), ("quiet", "1.0.0")):
        catalog.record_version(name, vers, None, {}, published=1.0)
    for name, vers in (
        ("zed-crate", "1.0.0"),
        ("zed-crate", "2.0.0"),
        ("zed-crate", "2.0.0"),
        ("alpha", "1.0.0"),
        ("undescribed", "0.1.0"),
        ("mirrored", "0.1.0"),
        ("mirrored", "0.2.0"),
    ):
        catalog.count_download(name, vers)
    assert catalog.downloads_by_exact_name() == [("alpha", 1), ("Zed_Crate", 3)]
    assert catalog.other_downloads() == 3


def test_publish_add_download_and_remove_reach_the_catalog(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    token = issue_token(data, "alice")
    crate = tmp_path / "added-2.0.0.crate"
    crate.write_bytes(
        make_crate(
            "added", "2.0.0", 'description = "from add"\nreadme = "README.md"\n', {"README.md": b"# Added\n\nhello"}
        )
    )
    run_cli(data, "add", str(crate))
    with running_server(data) as url:
        body = encode_publish_body(
            metadata("pub", "1.0.0", readme="# Pub", homepage="https://h.example"), make_crate("pub", "1.0.0")
        )
        assert (
            requests.put(
                f"{url}/api/v1/crates/new", data=body, headers={"Authorization": token}, timeout=10
            ).status_code
            == 200
        )
        for _ in range(3):
            assert requests.get(f"{url}/files/pub/pub-1.0.0.crate", timeout=10).status_code == 200
        assert requests.head(f"{url}/files/pub/pub-1.0.0.crate", timeout=10).status_code == 200
    catalog = Catalog(data / "catalog.sqlite3")
    published = catalog.versions("pub")["1.0.0"]
    assert published.publisher == "alice" and published.downloads == 3, "HEAD is not a download"
    assert published.metadata["readme"] == "# Pub" and published.metadata["homepage"] == "https://h.example"
    added = catalog.versions("added")["2.0.0"]
    assert added.publisher.startswith("cli") and added.metadata == {
        "description": "from add",
        "readme": "# Added\n\nhello",
        "bin_names": [],
    }
    run_cli(data, "remove", "added", "2.0.0")
    assert catalog.versions("added") == {}
