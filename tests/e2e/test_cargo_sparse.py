"""Real cargo against palletizer-all over the sparse index: publish, build, yank, search."""

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cargo import REGISTRY, Cargo, write_crate
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate
from tests.support.graph import EXPECTED_OUTPUT, publish_graph, reg, write_app
from tests.support.server import issue_token, running_server


class Env:
    """One served registry with the test graph published through cargo."""

    def __init__(self, root: Path, url: str, data: Path, cargo: Cargo, sources: dict[str, Path]) -> None:
        self.root, self.url, self.data, self.cargo, self.sources = root, url, data, cargo, sources

    def entries(self, name: str) -> list[dict]:
        response = requests.get(f"{self.url}/index/{index_path(name)}", timeout=10)
        response.raise_for_status()
        return [json.loads(line) for line in response.text.splitlines()]

    def entry(self, name: str, version: str) -> dict:
        return next(e for e in self.entries(name) if e["vers"] == version)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("sparse")
    data = root / "data"
    Registry.create(data, RegistryConfig())
    token = issue_token(data)
    with running_server(data) as url:
        cargo = Cargo.create(root / "publisher", f"sparse+{url}/index/", token=token)
        sources = publish_graph(cargo, root / "src")
        yield Env(root, url, data, cargo, sources)


def test_index_entries_carry_every_kind_of_dependency(env: Env) -> None:
    middle = env.entry("middle", "0.1.0")
    deps = {(d["name"], d["kind"]): d for d in middle["deps"]}
    assert deps[("base_util", "normal")]["req"] == "^0.1"
    renamed = deps[("renamed_ab", "normal")]
    assert renamed["package"] == "ab"
    assert deps[("x", "normal")]["optional"] is True
    assert deps[("abc", "normal")]["target"] == "cfg(unix)"
    assert deps[("build-helper", "build")]["kind"] == "build"
    assert deps[("abc", "dev")]["target"] is None
    assert all("registry" not in d for d in middle["deps"]), "same-registry deps carry no registry"
    assert middle["features2"] == {"fancy": ["dep:x", "base_util/extra"]}
    assert middle["v"] == 2
    assert middle["features"] == {"default": []}
    assert middle["rust_version"] == "1.60"
    assert env.entry("base_util", "0.1.0")["links"] == "baseutil"
    crate = (env.data / "crates" / "middle" / "middle-0.1.0.crate").read_bytes()
    assert middle["cksum"] == hashlib.sha256(crate).hexdigest()


def test_build_then_locked_build_from_empty_cargo_home(env: Env) -> None:
    app = write_app(env.root / "apps")
    env.cargo.run(app, "build")
    assert env.cargo.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT
    lock = (app / "Cargo.lock").read_text()
    assert 'name = "ab"\nversion = "0.1.1"' in lock

    shutil.rmtree(env.cargo.target_dir)
    fresh = env.cargo.fresh(env.root / "fresh-home")
    fresh.run(app, "build", "--locked")
    assert fresh.run(app, "run", "-q", "--locked").stdout.strip() == EXPECTED_OUTPUT
    assert (app / "Cargo.lock").read_text() == lock


def test_yank_blocks_new_lockfiles_but_not_existing_ones(env: Env) -> None:
    app = write_app(env.root / "yank-apps", "locked_app")
    env.cargo.run(app, "generate-lockfile")
    pinned = write_app(env.root / "yank-apps", "pinned_app", reg("ab", "=0.1.1"))

    env.cargo.run(env.root, "yank", "--registry", REGISTRY, "ab@0.1.1")
    assert env.entry("ab", "0.1.1")["yanked"] is True
    refused = env.cargo.run(pinned, "generate-lockfile", check=False)
    assert refused.returncode != 0
    assert "yanked" in refused.stderr
    loose = write_app(env.root / "yank-apps", "loose_app")
    env.cargo.run(loose, "generate-lockfile")
    assert 'name = "ab"\nversion = "0.1.0"' in (loose / "Cargo.lock").read_text()

    fresh = env.cargo.fresh(env.root / "yank-home")
    fresh.run(app, "build", "--locked")
    assert fresh.run(app, "run", "-q", "--locked").stdout.strip() == EXPECTED_OUTPUT

    env.cargo.run(env.root, "yank", "--undo", "--registry", REGISTRY, "ab@0.1.1")
    assert env.entry("ab", "0.1.1")["yanked"] is False
    env.cargo.run(pinned, "generate-lockfile")
    assert 'name = "ab"\nversion = "0.1.1"' in (pinned / "Cargo.lock").read_text()


def test_cli_yank_while_the_server_runs_is_seen_by_cargo(env: Env) -> None:
    pinned = write_app(env.root / "cli-apps", "cli_pinned", reg("ab", "=0.1.1"))
    run_cli(env.data, "yank", "ab", "0.1.1")
    try:
        refused = env.cargo.run(pinned, "generate-lockfile", check=False)
        assert refused.returncode != 0 and "yanked" in refused.stderr
    finally:
        run_cli(env.data, "unyank", "ab", "0.1.1")
    env.cargo.run(pinned, "generate-lockfile")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ab", 'ab = "0.1.1"'),
        ("x", 'x = "0.1.0"'),
        ("base-util", 'base_util = "0.1.0"'),
        ("MIDDLE", 'middle = "0.1.0"'),
    ],
)
def test_cargo_search(env: Env, query: str, expected: str) -> None:
    result = env.cargo.run(env.root, "search", "--registry", REGISTRY, query)
    assert expected in result.stdout


def test_republish_is_refused_with_a_message(env: Env) -> None:
    again = env.cargo.run(
        env.sources["ab"], "publish", "--registry", REGISTRY, "--no-verify", "--allow-dirty", check=False
    )
    assert again.returncode != 0
    assert "already exists" in again.stderr

    toml = '[package]\nname = "Base-Util"\nversion = "9.0.0"\nedition = "2021"\nlicense = "MIT"\ndescription = "d"\n'
    clash = write_crate(env.root / "src", "clash", toml, {"src/lib.rs": ""})
    refused = env.cargo.run(clash, "publish", "--registry", REGISTRY, "--no-verify", "--allow-dirty", check=False)
    assert refused.returncode != 0
    assert "409" in refused.stderr
    assert "conflicts with the existing crate `base_util`" in refused.stderr


def test_add_of_a_packaged_crate_matches_the_published_entry(env: Env, tmp_path: Path) -> None:
    env.cargo.run(env.sources["middle"], "package", "--registry", REGISTRY, "--no-verify", "--allow-dirty")
    packaged = env.cargo.target_dir / "package" / "middle-0.1.0.crate"
    other = tmp_path / "other"
    run_cli(other, "init", "--public-url", env.url)
    assert run_cli(other, "add", str(packaged)).out.strip() == "added middle 0.1.0"
    added = json.loads((other / "index" / index_path("middle")).read_text())
    published = env.entry("middle", "0.1.0")
    own = ("cksum", "pubtime")
    assert {k: v for k, v in added.items() if k not in own} == {k: v for k, v in published.items() if k not in own}
    assert added["pubtime"] >= published["pubtime"]
    assert added["cksum"] == hashlib.sha256(packaged.read_bytes()).hexdigest()


def test_add_while_serving_then_cargo_builds_against_it(env: Env) -> None:
    toml = (
        '[package]\nname = "imported"\nversion = "0.2.0"\nedition = "2021"\nlicense = "MIT"\n'
        'description = "made elsewhere"\n\n[dependencies]\n' + reg("abc", "0.1")
    )
    src = write_crate(env.root / "src", "imported", toml, {"src/lib.rs": "pub fn v() -> u32 { abc::abc() + 5 }\n"})
    env.cargo.run(src, "package", "--registry", REGISTRY, "--no-verify", "--allow-dirty")
    run_cli(env.data, "add", str(env.cargo.target_dir / "package" / "imported-0.2.0.crate"))
    user_toml = (
        '[package]\nname = "uses_imported"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n'
        "[dependencies]\n" + reg("imported", "0.2")
    )
    user = write_crate(
        env.root / "apps", "uses_imported", user_toml, {"src/main.rs": 'fn main() { println!("{}", imported::v()); }\n'}
    )
    assert env.cargo.run(user, "run", "-q").stdout.strip() == "105"
    assert run_cli(env.data, "verify").code == 0


def test_cargo_owner_lists_the_publisher(env: Env) -> None:
    result = env.cargo.run(env.root, "owner", "--list", "--registry", REGISTRY, "ab")
    assert result.stdout.split() == ["tester", "(tester)"], result.stdout


def test_misspelt_dependency_gets_cargos_suggestion(env: Env) -> None:
    app = write_crate(
        env.root / "apps",
        "misspelt",
        '[package]\nname = "misspelt"\nversion = "0.1.0"\n'
        'edition = "2021"\n\n[dependencies]\n' + reg("base-util", "0.1"),
        {"src/lib.rs": ""},
    )
    result = env.cargo.run(app, "generate-lockfile", check=False)
    assert result.returncode != 0
    assert "perhaps you meant:" in result.stderr and "base_util" in result.stderr


def test_cargo_search_without_description_and_with_limit(env: Env) -> None:
    toml = '[package]\nname = "nodesc"\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\n'
    crate = write_crate(env.root / "src", "nodesc", toml, {"src/lib.rs": ""})
    env.cargo.run(crate, "publish", "--registry", REGISTRY, "--no-verify", "--allow-dirty")
    bare = env.cargo.run(env.root, "search", "--registry", REGISTRY, "nodesc").stdout
    assert bare.splitlines()[0] == 'nodesc = "0.1.0"', bare
    everything = env.cargo.run(env.root, "search", "--registry", REGISTRY, "--limit", "100", "").stdout
    total = sum(1 for line in everything.splitlines() if ' = "' in line)
    assert total >= 5, everything
    first = env.cargo.run(env.root, "search", "--registry", REGISTRY, "--limit", "2", "").stdout
    assert sum(1 for line in first.splitlines() if ' = "' in line) == 2
    assert f"... and {total - 2} crates more" in first, first


def test_cargo_reads_pubtime(env: Env) -> None:
    registry = Registry(env.data)
    for version, published in (("0.1.0", 1_767_225_600), ("0.2.0", 1_798_761_600)):
        registry.clock = lambda published=published: published
        registry.add(make_crate("dated", version))
    assert [e["pubtime"] for e in env.entries("dated")] == ["2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"]
    app = write_crate(
        env.root / "apps",
        "dated_app",
        '[package]\nname = "dated_app"\nversion = "0.1.0"\nedition = "2021"\npublish = false\n\n'
        "[dependencies]\n" + reg("dated", ">=0.1"),
        {"src/main.rs": "fn main() {}\n"},
    )
    unstable = {"RUSTC_BOOTSTRAP": "1"}
    env.cargo.run(
        app, "generate-lockfile", "-Zunstable-options", "--publish-time", "2026-06-01T00:00:00Z", extra_env=unstable
    )
    assert 'name = "dated"\nversion = "0.1.0"' in (app / "Cargo.lock").read_text()
    env.cargo.run(app, "generate-lockfile")
    assert 'name = "dated"\nversion = "0.2.0"' in (app / "Cargo.lock").read_text()
