"""Cargo and git follow the git index across a squash of its history (the branch force-moved to one
commit holding the same tree), with libgit2 and with the git CLI."""

import subprocess
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cargo import Cargo, write_crate
from tests.support.graph import reg
from tests.support.server import issue_token, running_server


def _lib(root: Path, version: str) -> Path:
    toml = (
        f'[package]\nname = "squashed"\nversion = "{version}"\nedition = "2021"\nlicense = "MIT"\n'
        'description = "published on both sides of a squash"\n'
    )
    return write_crate(root / version, "squashed", toml, {"src/lib.rs": f'pub const V: &str = "{version}";\n'})


def _app(root: Path) -> Path:
    toml = '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n[dependencies]\n' + reg(
        "squashed", "0.1"
    )
    return write_crate(root, "app", toml, {"src/main.rs": 'fn main() { println!("{}", squashed::V); }\n'})


def _history(clone: Path) -> list[str]:
    log = subprocess.run(
        ["git", "-C", str(clone), "log", "--format=%H", "origin/HEAD"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return log.stdout.split()


@pytest.mark.parametrize("with_cli", [False, True], ids=["libgit2", "git-cli"])
def test_cargo_resolves_a_version_published_after_a_squash(tmp_path: Path, with_cli: bool) -> None:
    data = tmp_path / "data"
    registry = Registry.create(data, RegistryConfig())
    token = issue_token(data)
    with running_server(data) as url:
        cargo = Cargo.create(tmp_path / "cargo", f"{url}/git/index", git_fetch_with_cli=with_cli, token=token)
        cargo.publish(_lib(tmp_path / "src", "0.1.0"))
        app = _app(tmp_path / "apps")
        assert cargo.run(app, "run", "-q").stdout.strip() == "0.1.0"

        assert registry.squash_git()
        cargo.publish(_lib(tmp_path / "src", "0.1.1"))
        cargo.run(app, "update")
        assert 'name = "squashed"\nversion = "0.1.1"' in (app / "Cargo.lock").read_text()
        assert cargo.run(app, "run", "-q").stdout.strip() == "0.1.1"
        assert registry.verify() == []


def test_git_clone_and_fetch_across_a_squash(tmp_path: Path) -> None:
    data = tmp_path / "data"
    registry = Registry.create(data, RegistryConfig())
    with running_server(data) as url:
        cargo = Cargo.create(tmp_path / "cargo", f"{url}/git/index", token=issue_token(data))
        cargo.publish(_lib(tmp_path / "src", "0.1.0"))
        clone = tmp_path / "clone"
        subprocess.run(["git", "clone", "-q", f"{url}/git/index", str(clone)], check=True, timeout=60)
        assert len(_history(clone)) > 1

        assert registry.squash_git()
        cargo.publish(_lib(tmp_path / "src", "0.1.1"))
        subprocess.run(["git", "-C", str(clone), "fetch", "-q", "origin"], check=True, timeout=60)
        subprocess.run(["git", "-C", str(clone), "reset", "-q", "--hard", "origin/HEAD"], check=True, timeout=60)
        assert len(_history(clone)) == 2
        assert '"vers":"0.1.1"' in (clone / "sq" / "ua" / "squashed").read_text()
        fresh = tmp_path / "fresh"
        subprocess.run(["git", "clone", "-q", f"{url}/git/index", str(fresh)], check=True, timeout=60)
        assert _history(fresh) == _history(clone)
