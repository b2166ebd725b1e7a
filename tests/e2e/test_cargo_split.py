"""Real cargo against the three services run apart: the index on one port, the API and the files on others."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cargo import REGISTRY, Cargo
from tests.support.graph import EXPECTED_OUTPUT, publish_graph, reg, write_app
from tests.support.server import issue_token, running_split


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Cargo]]:
    """The test graph published by cargo through palletizer-api, told of it by palletizer-index."""
    root = tmp_path_factory.mktemp("split")
    data = root / "data"
    Registry.create(data, RegistryConfig())
    token = issue_token(data)
    with running_split(data) as urls:
        cargo = Cargo.create(root / "publisher", f"sparse+{urls.index}/index/", token=token)
        publish_graph(cargo, root / "src")
        yield root, cargo


def test_cargo_builds_with_crates_from_the_files_service(split: tuple[Path, Cargo]) -> None:
    root, cargo = split
    app = write_app(root / "apps")
    fresh = cargo.fresh(root / "fresh-home")
    fresh.run(app, "build")
    assert fresh.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT


def test_cargo_yank_goes_to_the_api_service_and_is_seen_in_the_index(split: tuple[Path, Cargo]) -> None:
    root, cargo = split
    pinned = write_app(root / "yank-apps", "pinned_app", reg("ab", "=0.1.1"))
    cargo.run(root, "yank", "--registry", REGISTRY, "ab@0.1.1")
    refused = cargo.run(pinned, "generate-lockfile", check=False)
    assert refused.returncode != 0 and "yanked" in refused.stderr
    cargo.run(root, "yank", "--undo", "--registry", REGISTRY, "ab@0.1.1")
    cargo.run(pinned, "generate-lockfile")
