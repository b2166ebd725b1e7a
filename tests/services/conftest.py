"""Fixtures of the service tests: `palletizer-all`'s app in process, one per test module.

Tests in one module share an app and its registry, so each test publishes crates under names of its own.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from palletizer_lib.settings.config import RegistryConfig
from tests.support.http import SMALL_MAX_CRATE_SIZE
from tests.support.inprocess import InProcess, in_process


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    """The app over a fresh registry with default settings, shared by one module."""
    yield from in_process(tmp_path_factory.mktemp("app"), RegistryConfig())


@pytest.fixture(scope="module")
def private_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    """The app over a registry that sets `auth_required`: every read needs a `read` token."""
    yield from in_process(tmp_path_factory.mktemp("private-app"), RegistryConfig(auth_required=True))


@pytest.fixture
def fresh_app(tmp_path: Path) -> Iterator[InProcess]:
    """The app over a fresh registry of its own, for a test that changes the data directory under it."""
    yield from in_process(tmp_path, RegistryConfig())


@pytest.fixture(scope="module")
def small_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    """The app over a registry that accepts crates of at most SMALL_MAX_CRATE_SIZE bytes."""
    yield from in_process(tmp_path_factory.mktemp("small-app"), RegistryConfig(max_crate_size=SMALL_MAX_CRATE_SIZE))
