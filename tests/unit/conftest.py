"""Fixtures the library's tests share."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.static_upstream import StaticUpstream


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[StaticUpstream]:
    """A static sparse registry on loopback, stopped after the test."""
    server = StaticUpstream(tmp_path / "upstream")
    yield server
    server.stop()
