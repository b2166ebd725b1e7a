"""A crate added by `palletizer add` (or `import`) without `--owner` has no owner: what a user who publishes
to it is told, and `claim_ownerless_crates`, which lets the first such publisher become its owner."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.accounts import Accounts
from tests.support.cli import run_cli
from tests.support.cratekit import crate_for, make_crate, metadata, publish_body
from tests.support.http import assert_error
from tests.support.inprocess import InProcess, in_process
from tests.support.server import issue_token

INDEX = "sparse+http://falconframework.org/index/"


@pytest.fixture
def claiming_app(tmp_path: Path) -> Iterator[InProcess]:
    """The app over a fresh registry with `claim_ownerless_crates: true`."""
    yield from in_process(tmp_path, RegistryConfig(claim_ownerless_crates=True))


def add_without_owner(app: InProcess, tmp_path: Path, name: str) -> None:
    """`palletizer add` of version 1.0.0 of `name`, without `--owner`."""
    crate = tmp_path / f"{name}-1.0.0.crate"
    crate.write_bytes(make_crate(name, "1.0.0"))
    run_cli(app.data, "add", str(crate))
    assert run_cli(app.data, "owner", "list", name).out == f"crate {name} has no owners (only admins manage it)\n"


def owners(app: InProcess, name: str) -> list[str]:
    return [user["login"] for user in app.owners("GET", name).json["users"]]


def test_a_publish_to_an_ownerless_crate_names_the_administrators_command_which_works(
    fresh_app: InProcess, tmp_path: Path
) -> None:
    add_without_owner(fresh_app, tmp_path, "nc-extra")
    alice = issue_token(fresh_app.data, "alice", ("publish", "yank", "owners"))

    detail = assert_error(fresh_app.put_body(publish_body("nc-extra", "1.1.0", index_url=INDEX), token=alice), 403)
    assert detail == (
        "crate `nc-extra` has no owner: an administrator makes you its first owner with "
        "`palletizer owner add nc-extra alice` (or `cargo owner --add alice nc-extra` with an admin "
        "token)"
    )
    assert "cargo owner --add alice nc-extra` with an admin" in assert_error(
        fresh_app.yank("nc-extra", "1.0.0", token=alice), 403
    )
    assert owners(fresh_app, "nc-extra") == []
    assert [line["vers"] for line in fresh_app.index_lines("nc-extra")] == ["1.0.0"]

    command = re.search(r"`palletizer (owner add [^`]+)`", detail).group(1).split()
    run_cli(fresh_app.data, *command)
    assert fresh_app.put_body(publish_body("nc-extra", "1.1.0", index_url=INDEX), token=alice).status_code == 200
    assert owners(fresh_app, "nc-extra") == ["alice"]


def test_without_the_setting_a_publisher_never_becomes_owner_of_an_ownerless_crate(
    fresh_app: InProcess, tmp_path: Path
) -> None:
    add_without_owner(fresh_app, tmp_path, "kept")
    bob = issue_token(fresh_app.data, "bob", ("publish",))
    assert_error(fresh_app.put_body(publish_body("kept", "2.0.0", index_url=INDEX), token=bob), 403)
    assert owners(fresh_app, "kept") == []


def test_with_the_setting_the_first_publisher_of_an_ownerless_crate_becomes_its_owner(
    claiming_app: InProcess, tmp_path: Path
) -> None:
    add_without_owner(claiming_app, tmp_path, "nc-extra")
    admin_publish = claiming_app.put_body(publish_body("nc-extra", "1.0.1", index_url=INDEX))
    assert admin_publish.status_code == 200, admin_publish.text
    assert owners(claiming_app, "nc-extra") == []  # an admin token manages it without owning it
    alice = issue_token(claiming_app.data, "alice", ("publish",))
    bob = issue_token(claiming_app.data, "bob", ("publish",))

    assert claiming_app.put_body(publish_body("nc-extra", "1.1.0", index_url=INDEX), token=alice).status_code == 200
    assert owners(claiming_app, "nc-extra") == ["alice"]
    audit = [
        (e.actor, e.action, e.crate, e.version, e.detail) for e in Accounts(Layout(claiming_app.data).accounts).audit(3)
    ]
    assert audit[-2:] == [
        ("alice", "add owners", "nc-extra", None, "alice (first publisher of a crate without owners)"),
        ("alice", "publish", "nc-extra", "1.1.0", None),
    ]

    detail = assert_error(claiming_app.put_body(publish_body("nc-extra", "1.2.0", index_url=INDEX), token=bob), 403)
    assert detail == (
        "`bob` is not an owner of crate `nc-extra`; an owner can add you with `cargo owner --add bob nc-extra`"
    )
    assert owners(claiming_app, "nc-extra") == ["alice"]


def test_a_claiming_publish_that_fails_or_publishes_nothing_new_leaves_no_owner(
    claiming_app: InProcess, tmp_path: Path
) -> None:
    add_without_owner(claiming_app, tmp_path, "nc-again")
    alice = issue_token(claiming_app.data, "alice", ("publish",))
    meta = metadata("nc-again", "1.0.0")
    different = encode_publish_body(meta, crate_for(meta, files={"extra": b"other bytes"}, index_url=INDEX))
    assert "already published" in assert_error(claiming_app.put_body(different, token=alice), 409)
    assert owners(claiming_app, "nc-again") == []

    same = publish_body("nc-again", "1.0.0", index_url=INDEX)  # the bytes `add` added: a retry, nothing new
    assert claiming_app.put_body(same, token=alice).status_code == 200
    assert owners(claiming_app, "nc-again") == []
