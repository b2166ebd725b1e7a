"""Writers in several processes and threads at once serialise on the registry lock."""

import multiprocessing
import threading
from pathlib import Path

from dulwich.repo import Repo

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import RegistryExists
from palletizer_lib.settings.config import RegistryConfig
from tests.support.publishing import publish

WRITERS = 4
VERSIONS_EACH = 5


def _publish_many(data: str, writer: str) -> None:
    registry = Registry(Path(data))
    for patch in range(VERSIONS_EACH):
        version = f"0.1.{patch}"
        name = f"crate-{writer}" if patch % 2 else "shared"
        if name == "shared":
            version = f"{writer_number(writer)}.0.{patch}"
        publish(registry, name, version)


def writer_number(writer: str) -> int:
    """A distinct major version per writer, so every writer's `shared` versions differ."""
    return 1 + int(writer.rsplit("-", 1)[-1])


def test_processes_and_threads_publish_at_once_without_loss(registry: Registry) -> None:
    data = str(registry.layout.root)
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_publish_many, args=(data, f"p-{i}")) for i in range(WRITERS)]
    threads = [threading.Thread(target=_publish_many, args=(data, f"t-{i + WRITERS}")) for i in range(WRITERS)]
    for worker in (*processes, *threads):
        worker.start()
    for worker in (*processes, *threads):
        worker.join(timeout=120)
    assert all(p.exitcode == 0 for p in processes)

    published = 2 * WRITERS * VERSIONS_EACH
    shared = registry.entries("shared")
    others = [e for s in registry.summaries() if s.name != "shared" for e in registry.entries(s.name)]
    assert len(shared) + len(others) == published
    assert len({e["vers"] for e in shared}) == len(shared)
    assert registry.verify() == []

    repo = Repo(str(registry.layout.git))
    commits = list(repo.get_walker())
    assert len(commits) == published + 1  # plus the commit writing config.json
    assert all(len(entry.commit.parents) <= 1 for entry in commits)


CREATED, EXISTED = 10, 11


def _create(data: str) -> None:
    try:
        Registry.create(Path(data), RegistryConfig(public_url="http://registry.test"))
    except RegistryExists:
        raise SystemExit(EXISTED) from None
    raise SystemExit(CREATED)


def test_processes_initialising_one_directory_at_once_make_one_registry(tmp_path: Path) -> None:
    """What containers sharing a fresh volume do on their first start."""
    data = tmp_path / "data"
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_create, args=(str(data),)) for _ in range(8)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
    assert sorted(p.exitcode for p in processes) == [CREATED] + [EXISTED] * 7
    registry = Registry(data)
    assert registry.verify() == [] and registry.health() == []
    assert len(list(Repo(str(registry.layout.git)).get_walker())) == 1
