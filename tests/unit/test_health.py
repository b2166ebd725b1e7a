"""`Registry.health`: what keeps a registry from serving reads and writes."""

import os
import shutil
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from tests.support.publishing import publish


def test_a_fresh_registry_is_healthy(registry: Registry) -> None:
    assert registry.health() == []


@pytest.mark.parametrize("directory", ["index", "crates", "names"])
def test_a_removed_directory_is_reported(registry: Registry, directory: str) -> None:
    shutil.rmtree(registry.layout.root / directory)
    assert registry.health() == [f"{directory}/ is missing (or not a directory)"]


def test_a_file_in_place_of_a_directory_is_reported(registry: Registry) -> None:
    registry.layout.crates.rmdir()
    registry.layout.crates.write_bytes(b"")
    assert registry.health() == ["crates/ is missing (or not a directory)"]


def test_an_unwritable_directory_is_reported(registry: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    # chmod does not stop root, so stand in for a read-only mount or foreign ownership
    access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != registry.layout.names and access(path, mode))
    assert registry.health() == ["names/ is not writable"]


def test_a_removed_data_directory_is_reported(registry: Registry) -> None:
    shutil.rmtree(registry.layout.root)
    problems = registry.health()
    assert problems[:2] == [
        "the data directory is missing (or not a directory)",
        "index/ is missing (or not a directory)",
    ]
    assert problems[-1].startswith("the git index (index.git/) cannot be read: NotGitRepository")


def test_a_git_index_missing_its_newest_commit_is_reported(registry: Registry) -> None:
    publish(registry, "foo", "1.0.0")
    head = registry.log.head().decode()
    (registry.layout.git / "objects" / head[:2] / head[2:]).unlink()
    assert registry.health() == [f"the git index (index.git/) cannot be read: KeyError: {head.encode()!r}"]
