"""Downloads counted in memory and added to the catalog in batches, by a flush, the background thread,
or the stop of the process."""

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import StorageError
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.catalog import Catalog
from palletizer_lib.stores.download_counter import DownloadCounter
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate
from tests.support.server import running_server, running_service


@pytest.fixture
def new_catalog(tmp_path: Path) -> Callable[[], Catalog]:
    """Opens the test's catalog database (again)."""
    return lambda: Catalog(tmp_path / "catalog.sqlite3")


def test_counts_reach_the_catalog_when_flushed_and_add_to_other_processes_counts(
    new_catalog: Callable[[], Catalog],
) -> None:
    counting, other, reader = (new_catalog() for _ in range(3))
    for name, vers in (("Foo_Bar", "1.0.0"), ("foo-bar", "1.0.0"), ("foo-bar", "2.0.0")):
        counting.download_counter.count(name, vers)
    other.download_counter.count("foo_bar", "1.0.0")
    assert reader.version_downloads("foo-bar") == {}  # nothing added yet (the thread waits a second)
    counting.download_counter.flush()
    assert reader.version_downloads("foo-bar") == {"1.0.0": 2, "2.0.0": 1}
    other.download_counter.flush()
    counting.download_counter.flush()  # nothing left: adds nothing
    assert reader.version_downloads("foo-bar") == {"1.0.0": 3, "2.0.0": 1}


def test_a_process_sees_its_own_counts_at_once(new_catalog: Callable[[], Catalog]) -> None:
    catalog = new_catalog()
    catalog.download_counter.count("foo", "1.0.0")
    assert catalog.downloads("foo") == 1 and catalog.downloads_by_crate() == {"foo": 1}


def test_a_version_forgotten_takes_its_pending_counts_with_it(new_catalog: Callable[[], Catalog]) -> None:
    catalog = new_catalog()
    catalog.download_counter.count("foo", "1.0.0")
    catalog.forget_version("foo", "1.0.0")
    catalog.download_counter.flush()
    assert catalog.version_downloads("foo") == {}


def test_the_background_thread_adds_counts_without_another_call(new_catalog: Callable[[], Catalog]) -> None:
    counting, reader = new_catalog(), new_catalog()
    counting.download_counter.count("foo", "1.0.0")
    deadline = time.monotonic() + 60
    while reader.downloads("foo") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reader.downloads("foo") == 1
    counting.download_counter.close()


def test_close_adds_what_is_left(new_catalog: Callable[[], Catalog]) -> None:
    counting, reader = new_catalog(), new_catalog()
    for _ in range(5):
        counting.download_counter.count("foo", "1.0.0")
    counting.download_counter.close()
    assert reader.downloads("foo") == 5


def test_a_stopped_server_loses_no_counted_download(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    crate = tmp_path / "counted-1.0.0.crate"
    crate.write_bytes(make_crate("counted", "1.0.0"))
    run_cli(data, "add", str(crate))
    with running_server(data) as url:
        for _ in range(20):
            assert requests.get(f"{url}/files/counted/counted-1.0.0.crate", timeout=10).status_code == 200
    with running_service("palletizer-files", data) as url:
        for _ in range(7):
            assert requests.get(f"{url}/files/counted/counted-1.0.0.crate", timeout=10).status_code == 200
    assert Catalog(data / "catalog.sqlite3").downloads("counted") == 27  # both stopped by SIGTERM


def test_counts_a_failed_add_could_not_store_are_kept_for_the_next(new_catalog: Callable[[], Catalog]) -> None:
    catalog = new_catalog()
    failures = [StorageError("disk full")]

    def add(counts: Mapping[tuple[str, str], int]) -> None:
        if failures:
            raise failures.pop()
        catalog.add_downloads(counts)

    counter = DownloadCounter(add)
    counter.count("foo", "1.0.0")
    with pytest.raises(StorageError):
        counter.flush()
    counter.count("foo", "1.0.0")
    counter.close()
    assert catalog.downloads("foo") == 2
