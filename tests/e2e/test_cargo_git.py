"""Real cargo against the git index (`http://HOST:PORT/git/index`), with libgit2 and with the git CLI."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cargo import REGISTRY, Cargo, write_crate
from tests.support.graph import EXPECTED_OUTPUT, publish_graph, reg, write_app
from tests.support.server import issue_token, running_server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """A registry with the test graph, published by cargo configured with the git index: (root, URL, the
    publisher's token)."""
    root = tmp_path_factory.mktemp("git")
    data = root / "data"
    Registry.create(data, RegistryConfig())
    token = issue_token(data)
    with running_server(data) as url:
        publisher = Cargo.create(root / "publisher", f"{url}/git/index", token=token)
        publish_graph(publisher, root / "src")
        yield root, url, token


@pytest.mark.parametrize("with_cli", [False, True], ids=["libgit2", "git-cli"])
def test_build_and_see_a_yank_after_cargo_update(served: tuple[Path, str, str], with_cli: bool) -> None:
    root, url, token = served
    mode = root / ("cli" if with_cli else "libgit2")
    cargo = Cargo.create(mode, f"{url}/git/index", git_fetch_with_cli=with_cli, token=token)
    app = write_app(mode / "apps")
    cargo.run(app, "build")
    assert cargo.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT
    assert 'name = "ab"\nversion = "0.1.1"' in (app / "Cargo.lock").read_text()

    newcomer = f"newcomer_{'cli' if with_cli else 'libgit2'}"
    cargo.publish(write_crate(mode / "src", newcomer, _toml(newcomer), {"src/lib.rs": "pub fn n() -> u32 { 7 }\n"}))
    with (app / "Cargo.toml").open("a") as toml:
        toml.write(reg(newcomer, "0.1"))
    cargo.run(app, "build")
    assert f'name = "{newcomer}"' in (app / "Cargo.lock").read_text()

    cargo.run(mode, "yank", "--registry", REGISTRY, "ab@0.1.1")
    try:
        cargo.run(app, "update")
        assert 'name = "ab"\nversion = "0.1.0"' in (app / "Cargo.lock").read_text()
    finally:
        cargo.run(mode, "yank", "--undo", "--registry", REGISTRY, "ab@0.1.1")
    cargo.run(app, "update")
    assert 'name = "ab"\nversion = "0.1.1"' in (app / "Cargo.lock").read_text()


def _toml(name: str) -> str:
    return (
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\n'
        'description = "published after the first fetch"\n'
    )


def test_config_json_is_committed_with_the_public_url(served: tuple[Path, str, str], tmp_path: Path) -> None:
    _, url, _ = served
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", f"{url}/git/index", str(clone)], check=True, timeout=60)
    assert f'"api": "{url}"' in (clone / "config.json").read_text()
    assert (clone / "3" / "a" / "abc").is_file()


def test_push_is_refused(served: tuple[Path, str, str], tmp_path: Path) -> None:
    _, url, _ = served
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", f"{url}/git/index", str(clone)], check=True, timeout=60)
    (clone / "1").mkdir(exist_ok=True)
    (clone / "1" / "q").write_text("{}\n")
    git = ["git", "-C", str(clone), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "sneak"], check=True)
    pushed = subprocess.run([*git, "push", "origin", "HEAD:main"], capture_output=True, text=True, timeout=60)
    assert pushed.returncode != 0
    assert "403" in pushed.stderr


def test_a_new_public_url_is_committed_at_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    registry = Registry.create(data, RegistryConfig())
    with running_server(data, "--public-url", "http://first.example:8000"):
        pass
    first = registry.log.head()
    with running_server(data, "--public-url", "http://second.example:9000") as url:
        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", f"{url}/git/index", str(clone)], check=True, timeout=60)
    assert '"api": "http://second.example:9000"' in (clone / "config.json").read_text()
    assert registry.log.head() != first
    with running_server(data, "--public-url", "http://second.example:9000"):
        pass
    log = subprocess.run(
        ["git", "-C", str(registry.layout.git), "log", "--format=%s"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert log[:2] == [
        "Serve the registry at http://second.example:9000",
        "Serve the registry at http://first.example:8000",
    ]
