"""The CLI's user, token, owner and audit commands, run as a user would."""

from pathlib import Path

import pytest

from palletizer_lib.domain.errors import Unauthorized
from palletizer_lib.stores.accounts import Accounts
from tests.support.cratekit import make_crate
from tests.support.server import palletizer


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    palletizer(data, "init")
    palletizer(data, "user", "add", "alice")
    return data


def test_token_create_prints_only_the_token_on_stdout(data: Path) -> None:
    created = palletizer(data, "token", "create", "--user", "alice", "--scope", "read", "--expires", "2")
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("pltz_")
    assert "shown only now" in created.stderr
    identity = Accounts(data / "accounts.sqlite3").authenticate(token)
    assert identity.user == "alice" and identity.scopes == frozenset({"read"})
    listed = palletizer(data, "token", "list").stdout
    assert "alice\tread\t" in listed and "expires " in listed
    assert token not in listed


def test_revoke_and_list(data: Path) -> None:
    token = palletizer(data, "token", "create", "--user", "alice").stdout.strip()
    palletizer(data, "token", "revoke", "1")
    assert "\trevoked " in palletizer(data, "token", "list", "--user", "alice").stdout
    with pytest.raises(Unauthorized, match="revoked"):
        Accounts(data / "accounts.sqlite3").authenticate(token)


@pytest.mark.parametrize("args", [
    ("token", "create", "--user", "nobody"),
    ("token", "revoke", "99"),
    ("user", "add", "alice"),
    ("user", "remove", "nobody"),
    ("owner", "list", "nocrate"),
    ("token", "create", "--user", "alice", "--expires", "0"),
])
def test_errors_are_one_line_and_non_zero(data: Path, args: tuple[str, ...]) -> None:
    result = palletizer(data, *args, check=False)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("palletizer: error: ")
    assert result.stdout == ""


def test_owners_and_audit_of_cli_changes(data: Path, tmp_path: Path) -> None:
    crate = tmp_path / "demo-1.0.0.crate"
    crate.write_bytes(make_crate("demo", "1.0.0"))
    palletizer(data, "user", "add", "bob")
    palletizer(data, "add", "--owner", "alice", str(crate))
    assert palletizer(data, "owner", "list", "demo").stdout.split() == ["alice"]
    palletizer(data, "owner", "add", "DEMO", "bob")
    assert palletizer(data, "owner", "list", "demo").stdout.split() == ["alice", "bob"]
    palletizer(data, "owner", "remove", "demo", "alice")
    last = palletizer(data, "owner", "remove", "demo", "bob", check=False)
    assert last.returncode == 1 and "at least one owner" in last.stderr
    palletizer(data, "yank", "demo", "1.0.0")
    lines = palletizer(data, "audit").stdout.splitlines()
    actions = [line.split("\t")[2] for line in lines]
    assert actions == ["add", "add owners", "remove owners", "yank"]
    assert all(line.split("\t")[1].startswith("cli") and line.endswith("\tlocal") for line in lines)
    assert palletizer(data, "audit", "--limit", "1").stdout.splitlines() == lines[-1:]


def test_removing_a_user_removes_their_tokens_and_ownerships(data: Path, tmp_path: Path) -> None:
    token = palletizer(data, "token", "create", "--user", "alice").stdout.strip()
    crate = tmp_path / "mine-1.0.0.crate"
    crate.write_bytes(make_crate("mine", "1.0.0"))
    palletizer(data, "add", "--owner", "alice", str(crate))
    palletizer(data, "user", "remove", "alice")
    assert palletizer(data, "user", "list").stdout == ""
    assert "no owners" in palletizer(data, "owner", "list", "mine").stdout
    with pytest.raises(Unauthorized, match="not valid"):
        Accounts(data / "accounts.sqlite3").authenticate(token)
