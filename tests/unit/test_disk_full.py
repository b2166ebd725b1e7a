"""A full disk, or a read-only data directory, while publishing.

The publish fails with a 500 in Cargo's error JSON that says what could not be written and why;
nothing half-written is visible (no index entry without its crate file, no temporary or lock file
left, `verify()` clean once the next write has run); once space is back, the same publish, retried,
succeeds, and the history has one commit per version.

Two ways: ENOSPC injected in process at every write of a publish in turn (always runs), and a
real tmpfs of a few hundred KB filled up, and a read-only bind mount (only where `mount` works:
root with CAP_SYS_ADMIN; skipped otherwise).
"""

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import IO

import falcon.testing
import pytest
from dulwich.repo import Repo

from palletizer_lib.core.composition import compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.disk.files import TEMP_PREFIX, exclusive_lock
from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.names import index_path
from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from palletizer_lib.stores.crates import LocalCrateStore
from palletizer_lib.stores.git_index import GitIndex
from palletizer_lib.stores.local import local_directories
from palletizer_lib.stores.protocols import RegistryStores
from palletizer_lib.stores.publish_marker import LocalPublishMarker
from palletizer_lib.stores.reverse_dependencies import ReverseDependencies
from palletizer_lib.stores.search_index import SearchIndex
from palletizer_lib.stores.served_index import LocalServedIndex
from palletizer_lib.stores.summaries import LocalSummaries
from palletizer_services import all as all_services
from tests.support.cratekit import make_crate, metadata
from tests.support.files import tree
from tests.support.inprocess import build_app
from tests.support.server import issue_token

BEHIND = "the served index files are behind the git index (a write was interrupted)"


class _Guarded:
    """A file opened for writing whose writes go through `DiskFull`."""

    def __init__(self, file: IO[bytes], disk: "DiskFull") -> None:
        self._file, self._disk = file, disk

    def write(self, data: bytes) -> int:
        self._disk.writing()
        return self._file.write(data)

    def __getattr__(self, name: str) -> object:
        return getattr(self._file, name)

    def __enter__(self) -> "_Guarded":
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()


class DiskFull:
    """Counts the writes to files opened with `os.fdopen` (every file the library and dulwich write)
    and, once armed, fails the `fail_at`-th and every later one with ENOSPC, as a full disk would."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.writes = 0
        self.fail_at: int | None = None
        real_fdopen = os.fdopen

        def fdopen(fd: int, mode: str = "r", *args: object, **kwargs: object) -> IO:
            file = real_fdopen(fd, mode, *args, **kwargs)
            return _Guarded(file, self) if any(c in mode for c in "wax+") else file

        monkeypatch.setattr(os, "fdopen", fdopen)

    def writing(self) -> None:
        self.writes += 1
        if self.fail_at is not None and self.writes >= self.fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    @contextmanager
    def full_at(self, write: int | None) -> Iterator[None]:
        """Within: the `write`-th write from now on fails, and all after it (None: count only)."""
        self.writes = 0
        self.fail_at = write
        try:
            yield
        finally:
            self.fail_at = None


class Api:
    """`palletizer-all`'s app in process over a registry, with an admin token."""

    def __init__(self, data: Path) -> None:
        self.registry = Registry(data)
        app, self.site = build_app(self.registry, url=None)
        self.client = falcon.testing.TestClient(app)
        self.token = issue_token(data)

    def publish(self, name: str, version: str, crate: bytes) -> falcon.testing.Result:
        body = encode_publish_body(metadata(name, version), crate)
        return self.client.simulate_put("/api/v1/crates/new", body=body, headers={"Authorization": self.token})


def error_detail(response: falcon.testing.Result) -> str:
    """The detail of Cargo's error JSON in a 5xx answer."""
    assert response.status_code >= 500, (response.status, response.text)
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json["errors"]
    return error["detail"]


def assert_nothing_half_written(registry: Registry, name: str) -> None:
    """What readers can see is whole: no temporary or git lock file is left, every served entry has its
    crate file (checksums included). Git may be ahead of the served files of crate `name` (the next write
    or server start brings them up), but then with the crate file in place."""
    root = registry.layout.root
    assert not list(root.rglob(TEMP_PREFIX + "*")) and not list(root.rglob("*.lock"))
    served = f"index/{index_path(name)}"
    behind = {BEHIND, f"{served}: differs from the git index", f"{served}: the crate has no summary in names/"}
    problems = registry.verify()
    assert not problems or (BEHIND in problems and set(problems) <= behind), problems
    if (registry.layout.root / served).is_file():
        for entry in registry.entries(name):
            assert registry.crate_size(entry["name"], entry["vers"]) is not None


def registry_files(data: Path) -> dict[str, bytes | str | None]:
    """Every file of the registry itself (not of its SQLite stores, which change under mere reads)."""
    return {path: content for path, content in tree(data).items() if ".sqlite3" not in path}


def publish_commits(registry: Registry) -> list[str]:
    """The messages of the history's publish commits, oldest first."""
    messages = [e.commit.message.decode().strip() for e in Repo(str(registry.layout.git)).get_walker()]
    return [m for m in reversed(messages) if m.startswith("Publish ")]


# -- ENOSPC injected at each write in turn -----------------------------------------------


@pytest.fixture
def api(tmp_path: Path) -> Api:
    Registry.create(tmp_path / "data", RegistryConfig(public_url="http://registry.test"))
    return Api(tmp_path / "data")


@pytest.mark.parametrize("new_crate", [True, False], ids=["new crate", "new version"])
def test_enospc_at_every_write_of_a_publish(api: Api, monkeypatch: pytest.MonkeyPatch, new_crate: bool) -> None:
    disk = DiskFull(monkeypatch)
    assert api.publish("base", "1.0.0", make_crate("base", "1.0.0")).status_code == 200
    with disk.full_at(None):
        assert api.publish("base", "1.0.1", make_crate("base", "1.0.1")).status_code == 200
    writes = disk.writes
    assert writes >= 8  # the journal, the crate, git objects and ref, the index file, .head, the summary
    expected = ["Publish base 1.0.0", "Publish base 1.0.1"]
    for write in range(1, writes + 1):
        name, version = (f"fresh{write}", "1.0.0") if new_crate else ("base", f"2.0.{write}")
        crate = make_crate(name, version)
        with disk.full_at(write):
            detail = error_detail(api.publish(name, version, crate))
            assert "No space left on device" in detail and "could not write" in detail, detail
            assert_nothing_half_written(api.registry, name)
        retried = api.publish(name, version, crate)
        assert retried.status_code == 200, (write, retried.text)
        assert api.registry.verify() == []
        assert [e["vers"] for e in api.registry.entries(name)].count(version) == 1
        assert api.registry.stored_crate(name, version) == crate
        expected.append(f"Publish {name} {version}")
    assert publish_commits(api.registry) == expected


# -- a real small filesystem, and a read-only one ------------------------------------------


def mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True, check=False).returncode == 0


@contextmanager
def mounted(point: Path, *args: str) -> Iterator[Path]:
    """`mount ARGS POINT` for the duration, or skip the test where mounting is not allowed."""
    point.mkdir()
    if os.geteuid() != 0 or not mount(*args, str(point)):
        pytest.skip("needs `mount` (root with CAP_SYS_ADMIN)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)


def fill(path: Path) -> None:
    """Write zeros to `path` until the filesystem has no space left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, bytes(4096))
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_a_really_full_disk_fails_each_step_cleanly_until_space_is_back(tmp_path: Path) -> None:
    """On a full tmpfs, a publish is retried with 4 KB more free space each time: it fails at one
    write after another (as far as each fits), cleanly, until it succeeds."""
    with mounted(tmp_path / "small", "-t", "tmpfs", "-o", "size=1m", "tmpfs") as disk:
        Registry.create(disk / "data", RegistryConfig(public_url="http://registry.test"))
        api = Api(disk / "data")
        assert api.publish("base", "1.0.0", make_crate("base", "1.0.0")).status_code == 200
        crate = make_crate("base", "1.0.1", files={"src/blob.bin": os.urandom(6000)})
        filler = disk / "filler"
        fill(filler)
        failures = []
        while (response := api.publish("base", "1.0.1", crate)).status_code != 200:
            detail = error_detail(response)
            assert "No space left on device" in detail or "disk is full" in detail, detail
            assert_nothing_half_written(api.registry, "base")
            failures.append(detail)
            assert len(failures) < 100, failures[-5:]
            os.truncate(filler, max(0, filler.stat().st_size - 4096))
        assert len(set(failures)) >= 4, failures  # the journal, the crate file, git, the catalog at least
        assert api.registry.verify() == []
        assert api.registry.stored_crate("base", "1.0.1") == crate
        assert "1.0.1" in api.site.catalog.versions("base")
        filler.unlink()
        assert api.publish("base", "1.0.2", make_crate("base", "1.0.2")).status_code == 200
        assert api.registry.verify() == []
        assert publish_commits(api.registry) == ["Publish base 1.0.0", "Publish base 1.0.1", "Publish base 1.0.2"]


def test_a_read_only_data_directory_fails_cleanly_until_writable_again(tmp_path: Path) -> None:
    """The registry's files turn read-only under a running registry (a read-only bind mount: root ignores
    file modes; the SQLite files stay writable, as a mount with them open cannot be made read-only):
    a clear 500, nothing changed; writable again, the same publish succeeds."""
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig(public_url="http://registry.test"))
    token = issue_token(data)
    with mounted(tmp_path / "view", "--bind", str(data)) as view:
        layout = Layout(view)
        stores = RegistryStores(
            LocalCrateStore(layout.crates),
            LocalServedIndex(layout.index),
            LocalSummaries(layout),
            Catalog(data / "catalog.sqlite3"),
            SearchIndex(data / "catalog.sqlite3"),
            ReverseDependencies(data / "catalog.sqlite3"),
            partial(exclusive_lock, layout.lock),
            LocalPublishMarker(layout.pending),
            Accounts(data / "accounts.sqlite3"),
            GitIndex(layout.git),
            directories=local_directories(layout),
        )
        registry = Registry(view, stores)
        site = compose(registry)
        client = falcon.testing.TestClient(all_services.create(site))
        body = encode_publish_body(metadata("base", "1.0.0"), make_crate("base", "1.0.0"))
        before = registry_files(view)
        assert mount("-o", "remount,bind,ro", str(view))
        failed = client.simulate_put("/api/v1/crates/new", body=body, headers={"Authorization": token})
        assert "Read-only file system" in error_detail(failed)
        assert registry_files(view) == before and client.simulate_get("/index/config.json").status_code == 200
        assert mount("-o", "remount,bind,rw", str(view))
        retried = client.simulate_put("/api/v1/crates/new", body=body, headers={"Authorization": token})
        assert retried.status_code == 200, retried.text
        assert registry.verify() == [] and publish_commits(registry) == ["Publish base 1.0.0"]
