"""The CLI's user, token, owner and audit commands, run as a user would."""

from pathlib import Path

import pytest

from palletizer_lib.domain.errors import Unauthorized
from palletizer_lib.stores.accounts import Accounts
from tests.support.cli import run_cli
from tests.support.cratekit import make_crate


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    run_cli(data, "init")
    run_cli(data, "user", "add", "alice")
    return data


def test_token_create_prints_only_the_token_on_stdout(data: Path) -> None:
    created = run_cli(data, "token", "create", "--user", "alice", "--scope", "read", "--expires", "2")
    token = created.out.strip()
    assert created.out == token + "\n" and token.startswith("pltz_")
    assert "shown only now" in created.err
    identity = Accounts(data / "accounts.sqlite3").authenticate(token)
    assert identity.user == "alice" and identity.scopes == frozenset({"read"})
    listed = run_cli(data, "token", "list").out
    assert "alice\tread\t" in listed and "expires " in listed
    assert token not in listed


def test_revoke_and_list(data: Path) -> None:
    token = run_cli(data, "token", "create", "--user", "alice").out.strip()
    run_cli(data, "token", "revoke", "1")
    assert "\trevoked " in run_cli(data, "token", "list", "--user", "alice").out
    with pytest.raises(Unauthorized, match="revoked"):
        Accounts(data / "accounts.sqlite3").authenticate(token)


@pytest.mark.parametrize(
    "args",
    [
        ("token", "create", "--user", "nobody"),
        ("token", "revoke", "99"),
        ("user", "add", "alice"),
        ("user", "remove", "nobody"),
        ("owner", "list", "nocrate"),
        ("token", "create", "--user", "alice", "--expires", "0"),
    ],
)
def test_errors_are_one_line_and_non_zero(data: Path, args: tuple[str, ...]) -> None:
    result = run_cli(data, *args, check=False)
    assert result.code == 1
    assert result.err.count("\n") == 1 and result.err.startswith("palletizer: error: ")
    assert result.out == ""


def test_owners_and_audit_of_cli_changes(data: Path, tmp_path: Path) -> None:
    crate = tmp_path / "demo-1.0.0.crate"
    crate.write_bytes(make_crate("demo", "1.0.0"))
    run_cli(data, "user", "add", "bob")
    run_cli(data, "add", "--owner", "alice", str(crate))
    assert run_cli(data, "owner", "list", "demo").out.split() == ["alice"]
    run_cli(data, "owner", "add", "DEMO", "bob")
    assert run_cli(data, "owner", "list", "demo").out.split() == ["alice", "bob"]
    run_cli(data, "owner", "remove", "demo", "alice")
    last = run_cli(data, "owner", "remove", "demo", "bob", check=False)
    assert last.code == 1 and "at least one owner" in last.err
    run_cli(data, "yank", "demo", "1.0.0")
    lines = run_cli(data, "audit").out.splitlines()
    actions = [line.split("\t")[2] for line in lines]
    assert actions == ["add", "add owners", "remove owners", "yank"]
    assert all(line.split("\t")[1].startswith("cli") and line.endswith("\tlocal") for line in lines)
    assert run_cli(data, "audit", "--limit", "1").out.splitlines() == lines[-1:]


def test_removing_a_user_removes_their_tokens_and_ownerships(data: Path, tmp_path: Path) -> None:
    token = run_cli(data, "token", "create", "--user", "alice").out.strip()
    crate = tmp_path / "mine-1.0.0.crate"
    crate.write_bytes(make_crate("mine", "1.0.0"))
    run_cli(data, "add", "--owner", "alice", str(crate))
    run_cli(data, "user", "remove", "alice")
    assert run_cli(data, "user", "list").out == ""
    assert "no owners" in run_cli(data, "owner", "list", "mine").out
    with pytest.raises(Unauthorized, match="not valid"):
        Accounts(data / "accounts.sqlite3").authenticate(token)
