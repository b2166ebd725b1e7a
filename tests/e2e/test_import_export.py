"""Real cargo: crates made by `cargo package` imported into a new registry, which is exported as a static
registry, served by Python's http.server, and built against by cargo."""

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from palletizer_lib.core.composition import compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cargo import REGISTRY, Cargo, write_crate
from tests.support.cli import run_cli
from tests.support.graph import EXPECTED_OUTPUT, LIBRARIES, publish_graph, write_app
from tests.support.readiness import NotReady, port_accepts, wait_until_ready
from tests.support.server import free_port, issue_token, running_server

# What each library of the graph needs to be built (normal and build dependencies on the registry).
NEEDS = {"middle": {"base_util", "ab", "x", "abc", "build-helper"}}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, Cargo]]:
    """A registry served by a real server where cargo published every library of the graph: (its data
    directory, its URL, that cargo)."""
    root = tmp_path_factory.mktemp("source")
    data = root / "source-data"
    Registry.create(data, RegistryConfig())
    with running_server(data) as url:
        cargo = Cargo.create(root / "publisher", f"sparse+{url}/index/", token=issue_token(data))
        publish_graph(cargo, root / "published")
        yield data, url, cargo


@pytest.fixture(scope="module")
def packaged(source: tuple[Path, str, Cargo], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """Every library of the graph packaged by cargo (its dependencies resolved against a registry serving
    them), in a vendor-like tree: (the directory, the URL of the registry they were packaged for)."""
    root = tmp_path_factory.mktemp("packaged")
    _, url, cargo = source
    vendor = root / "vendor"
    for name, toml, files in LIBRARIES:
        version = toml.split('version = "', 1)[1].split('"', 1)[0]
        crate_source = write_crate(root / "sources", f"{name}-{version}", toml, files)
        cargo.run(crate_source, "package", "--registry", REGISTRY, "--no-verify", "--allow-dirty")
        packaged_file = cargo.target_dir / "package" / f"{name}-{version}.crate"
        (vendor / name).mkdir(parents=True, exist_ok=True)
        shutil.copy(packaged_file, vendor / name / packaged_file.name)
    yield vendor, url


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Python's http.server on a free loopback port, serving `directory`; yield its URL."""
    port = free_port()
    log = (directory.parent / "http-server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(directory), str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_ready(port_accepts(port), lambda: process.poll() is None)
        except NotReady as error:
            raise RuntimeError(f"http.server did not start: {error}") from None
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_import_of_packaged_crates_then_export_served_statically_builds_with_cargo(
    packaged: tuple[Path, str], tmp_path: Path
) -> None:
    vendor, packaged_for = packaged
    data = tmp_path / "data"
    # Same public URL as the registry they were packaged for: their dependencies are on this registry.
    run_cli(data, "init", "--public-url", packaged_for)

    result = run_cli(data, "import", str(vendor))
    lines = result.out.splitlines()
    assert lines[-1] == f"import: {len(LIBRARIES)} added, 0 skipped, 0 refused", result.out
    added = [line.split()[1] for line in lines[:-1]]
    assert all(line.startswith("added ") for line in lines[:-1])
    for crate, needs in NEEDS.items():
        assert needs <= set(added[: added.index(crate)]), added
    assert run_cli(data, "verify").code == 0

    again = run_cli(data, "import", str(vendor))
    assert again.out.splitlines()[-1] == f"import: 0 added, {len(LIBRARIES)} skipped, 0 refused"

    site = tmp_path / "site"
    site.mkdir()
    with static_server(site) as url:
        run_cli(data, "export", str(site), "--base-url", url)
        assert json.loads(requests.get(f"{url}/index/config.json", timeout=10).content) == {
            "dl": f"{url}/crates/{{crate}}/{{crate}}-{{version}}.crate"
        }
        cargo = Cargo.create(tmp_path / "consumer", f"sparse+{url}/index/")
        app = write_app(tmp_path / "apps")
        build = cargo.run(app, "build")
        assert "Downloaded middle v0.1.0" in build.stderr
        assert cargo.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT
    served = (tmp_path / "http-server.log").read_text()
    assert '"GET /crates/middle/middle-0.1.0.crate HTTP/1.1" 200' in served
    assert '"GET /index/mi/dd/middle HTTP/1.1" 200' in served


def test_an_export_of_crates_cargo_published_imports_into_the_same_registry(
    source: tuple[Path, str, Cargo], tmp_path: Path
) -> None:
    data, url, cargo = source
    run_cli(data, "user", "add", "second-owner")
    cargo.run(tmp_path, "owner", "--registry", REGISTRY, "--add", "second-owner", "ab")
    cargo.run(tmp_path, "yank", "--registry", REGISTRY, "ab@0.1.0")
    out = tmp_path / "static"
    run_cli(data, "export", str(out), "--base-url", "http://static.test")
    target = tmp_path / "target"
    run_cli(target, "init", "--public-url", url)  # the URL the crates were published to

    result = run_cli(target, "import", str(out))
    assert result.out.splitlines()[-1] == f"import: {len(LIBRARIES)} added, 0 skipped, 0 refused", result.out

    names = sorted({name for name, _, _ in LIBRARIES})
    for name in names:  # what cargo published and what the import rebuilt: the same index lines
        assert (target / "index" / index_path(name)).read_bytes() == (data / "index" / index_path(name)).read_bytes()
    assert run_cli(target, "list", "ab").out == "ab 0.1.0 (yanked)\t0 downloads\nab 0.1.1\t0 downloads\n"
    assert run_cli(target, "owner", "list", "ab").out == "second-owner\ntester\n"
    catalog = compose(Registry(target)).catalog
    assert {info.publisher for info in catalog.versions("middle").values()} == {"tester"}
