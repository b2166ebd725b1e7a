"""`palletizer export` then `palletizer import` of it into a fresh registry rebuilds the same registry: yanks,
owners, publishers, publication times (index and catalog) and download counts, through the real command line."""

import json
from pathlib import Path

import pytest

from palletizer_lib.admin.export_state import STATE_FILE
from palletizer_lib.core.actor import Actor
from palletizer_lib.core.composition import Site, compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cli import run_cli
from tests.support.cratekit import dep, make_crate
from tests.support.publishing import publish_as

PUBLIC = "http://registry.test"
CRATES = {"base_util": ["1.0.0", "1.1.0", "1.2.0"], "top": ["1.0.0"], "loose": ["0.1.0"]}


@pytest.fixture
def source(tmp_path: Path) -> Site:
    """A registry where alice and bob own base_util (versions by each, one yanked), bob owns top, and
    loose was added by the command line without an owner; with downloads."""
    site = compose(Registry.create(tmp_path / "source", RegistryConfig(public_url=PUBLIC)))
    accounts, operations = site.accounts, site.operations
    actors = {}
    for user in ("alice", "bob"):
        accounts.add_user(user)
        actors[user] = Actor.user(accounts.authenticate(accounts.create_token(user)[1]), "127.0.0.1")
    alice, bob = actors["alice"], actors["bob"]
    times = iter(1_700_000_000.75 + 100_000 * n for n in range(len(CRATES) * 3))
    site.registry.clock = lambda: next(times)
    publish_as(site.operations, alice, "base_util", "1.0.0")
    publish_as(site.operations, alice, "base_util", "1.1.0")
    operations.change_owners(alice, "base_util", ["bob"], add=True)
    publish_as(site.operations, bob, "base_util", "1.2.0")
    publish_as(site.operations, bob, "top", "1.0.0", deps=[dep("base_util", "^1")])
    operations.add(Actor.command_line(), make_crate("loose", "0.1.0"))
    operations.set_yanked(alice, "base_util", "1.1.0", True)
    site.catalog.add_downloads({("base_util", "1.0.0"): 7, ("base_util", "1.1.0"): 3, ("top", "1.0.0"): 1})
    site.catalog.download_counter.close()
    return site


def state_of(site: Site) -> dict:
    """Everything an import should carry over, per crate."""
    registry, catalog = site.registry, site.catalog
    state = {}
    for name, versions in CRATES.items():
        entries = {e["vers"]: e for e in registry.entries(name)}
        known = catalog.versions(name)
        state[name] = {
            "owners": site.accounts.owners(name),
            "versions": {
                vers: (
                    entries[vers]["yanked"],
                    entries[vers]["pubtime"],
                    known[vers].publisher,
                    known[vers].published,
                    known[vers].downloads,
                )
                for vers in versions
            },
            "index": (registry.layout.index / index_path(name)).read_bytes(),
        }
    return state


def test_an_import_of_an_export_rebuilds_the_same_registry(source: Site, tmp_path: Path) -> None:
    out = tmp_path / "static"
    run_cli(source.registry.layout.root, "export", str(out), "--base-url", "http://static.test")
    target = tmp_path / "target"
    run_cli(target, "init", "--public-url", PUBLIC)

    result = run_cli(target, "import", str(out))
    assert result.out.splitlines()[-1] == "import: 5 added, 0 skipped, 0 refused"
    imported = compose(Registry(target))
    expected = state_of(source)
    assert state_of(imported) == expected
    assert f"import: {out} is an export: added versions keep its yanks" in result.err
    for user in ("alice", "bob"):
        assert (
            f"import: created user {user} to own crates as in the export; it has no token yet "
            f"(`palletizer token create --user {user}`)"
        ) in result.err
    assert json.loads((out / STATE_FILE).read_bytes())["crates"]["base_util"]["owners"] == ["alice", "bob"]
    assert expected["base_util"]["versions"]["1.1.0"][0] is True
    assert expected["base_util"]["versions"]["1.2.0"][2] == "bob"
    assert expected["loose"]["owners"] == []
    assert imported.accounts.tokens() == []
    audit = [(e.action, e.crate, e.version, e.detail) for e in imported.accounts.audit(100)]
    assert ("yank", "base_util", "1.1.0", None) in audit
    assert ("add owners", "base_util", None, "alice, bob") in audit
    assert ("add user", None, None, "bob") in audit
    assert run_cli(target, "verify").code == 0

    again = run_cli(target, "import", str(out))
    assert again.out.splitlines()[-1] == "import: 0 added, 5 skipped, 0 refused"
    assert state_of(compose(Registry(target))) == expected  # downloads not counted twice


def test_without_the_state_file_an_export_imports_as_plain_crate_files(source: Site, tmp_path: Path) -> None:
    out = tmp_path / "static"
    run_cli(source.registry.layout.root, "export", str(out), "--base-url", "http://static.test")
    (out / STATE_FILE).unlink()
    target = tmp_path / "target"
    run_cli(target, "init", "--public-url", PUBLIC)

    result = run_cli(target, "import", str(out))
    assert result.out.splitlines()[-1] == "import: 5 added, 0 skipped, 0 refused"
    assert "is an export" not in result.err
    imported = compose(Registry(target))
    assert imported.accounts.users() == [] and imported.accounts.owners("base_util") == []
    assert [e["yanked"] for e in imported.registry.entries("base_util")] == [False, False, False]
    assert imported.catalog.downloads("base_util") == 0
    assert {info.publisher for info in imported.catalog.versions("base_util").values()} == {
        audit.actor for audit in imported.accounts.audit(1)
    }


def test_a_state_file_that_is_not_an_exports_stops_the_import_before_anything(source: Site, tmp_path: Path) -> None:
    out = tmp_path / "static"
    run_cli(source.registry.layout.root, "export", str(out), "--base-url", "http://static.test")
    document = json.loads((out / STATE_FILE).read_bytes())
    document["crates"]["top"]["owners"] = ["two words"]
    (out / STATE_FILE).write_text(json.dumps(document))
    target = tmp_path / "target"
    run_cli(target, "init", "--public-url", PUBLIC)

    result = run_cli(target, "import", str(out), check=False)
    assert result.code == 1
    assert result.err.strip() == (
        f"palletizer: error: {out / STATE_FILE} is not the state file of an export: "
        "invalid user name `two words`: use up to 100 characters without spaces"
    )
    assert run_cli(target, "list").out == ""
