"""Real cargo against `palletizer-all --workers 2`: publishing the test graph and building with it from an
empty CARGO_HOME, whichever worker answers each request."""

from pathlib import Path

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cargo import Cargo
from tests.support.cli import run_cli
from tests.support.graph import EXPECTED_OUTPUT, publish_graph, write_app
from tests.support.server import issue_token, running_server


def test_cargo_publishes_and_builds_against_two_workers(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Registry.create(data, RegistryConfig())
    token = issue_token(data)
    with running_server(data, "--workers", "2") as url:
        cargo = Cargo.create(tmp_path / "publisher", f"sparse+{url}/index/", token=token)
        publish_graph(cargo, tmp_path / "src")
        app = write_app(tmp_path / "apps")
        builder = cargo.fresh(tmp_path / "builder")
        builder.run(app, "build")
        assert builder.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT
    run_cli(data, "verify")
