"""`/health` of palletizer-all: 200 while the registry can serve, 503 with Cargo's error JSON otherwise."""

from pathlib import Path

import pytest
import requests

from tests.support.http import assert_error


def test_health_is_ok(server: tuple[str, Path]) -> None:
    url, _ = server
    response = requests.get(f"{url}/health", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(("moved", "reason"), [
    ("names", "names/ is missing (or not a directory)"),
    ("index.git", "the git index (index.git/) cannot be read: NotGitRepository"),
])
def test_health_is_503_while_the_data_directory_is_broken(server: tuple[str, Path], moved: str, reason: str) -> None:
    url, data = server
    (data / moved).rename(data.parent / "aside")
    broken = requests.get(f"{url}/health", timeout=10)
    assert reason in assert_error(broken, 503)

    (data.parent / "aside").rename(data / moved)
    assert requests.get(f"{url}/health", timeout=10).status_code == 200
