"""`/health` of palletizer-all: 200 while the registry can serve, 503 with Cargo's error JSON otherwise."""

import pytest

from tests.support.http import assert_error
from tests.support.inprocess import InProcess


def test_health_is_ok(fresh_app: InProcess) -> None:
    response = fresh_app.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.json == {"status": "ok"}


@pytest.mark.parametrize(
    ("moved", "reason"),
    [
        ("names", "names/ is missing (or not a directory)"),
        ("index.git", "the git index (index.git/) cannot be read: NotGitRepository"),
    ],
)
def test_health_is_503_while_the_data_directory_is_broken(fresh_app: InProcess, moved: str, reason: str) -> None:
    data = fresh_app.data
    (data / moved).rename(data.parent / "aside")
    broken = fresh_app.get("/health")
    assert reason in assert_error(broken, 503)

    (data.parent / "aside").rename(data / moved)
    assert fresh_app.get("/health").status_code == 200
