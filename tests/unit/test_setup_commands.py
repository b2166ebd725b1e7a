"""The set-up commands a newcomer is shown work as printed: the server's banner, and `make cli` capturing a
token alone."""

import os
import shlex
import subprocess
from pathlib import Path

import pytest
import requests

from palletizer_lib.core.composition import open_site
from palletizer_services.command_line import first_steps
from tests.support.cli import run_cli
from tests.support.server import ROOT, running_server


@pytest.mark.slow
def test_the_banner_s_token_commands_work_as_printed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli(data, "init")
    with running_server(data) as url:
        [log] = data.parent.glob("palletizer-all-*.log")
        banner = log.read_text()
        commands = [line.strip() for line in banner.splitlines() if line.startswith("    ") and " --data " in line]
        assert [shlex.split(c)[3:] for c in commands] == [
            ["user", "add", "alice"],
            ["token", "create", "--user", "alice"],
        ], banner
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("PALLETIZER_DATA", "VIRTUAL_ENV")}
        outputs = [
            subprocess.run(
                shlex.split(c), cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60, check=True
            ).stdout
            for c in commands
        ]
        token = outputs[1].strip()
        yank = f"{url}/api/v1/crates/nothing/1.0.0/yank"
        assert requests.delete(yank, headers={"Authorization": "pltz_not-a-token"}, timeout=10).status_code == 401
        known = requests.delete(yank, headers={"Authorization": token}, timeout=10)
        assert known.status_code == 404 and "does not exist" in known.text, known.text


def banner_commands(banner: str) -> list[list[str]]:
    """The `palletizer` commands a banner prints, without the program and `--data DIR`."""
    return [shlex.split(line)[3:] for line in banner.splitlines() if line.startswith("    ") and " --data " in line]


@pytest.mark.parametrize(
    "users, tokens, revoked, expected",
    [
        ((), (), (), [["user", "add", "alice"], ["token", "create", "--user", "alice"]]),
        (("carol", "bob"), (), (), [["token", "create", "--user", "bob"]]),
        (("bob",), ("bob",), ("bob",), [["token", "create", "--user", "bob"]]),
        (("bob", "carol"), ("carol",), (), []),
    ],
    ids=["no-users", "users-no-tokens", "only-a-revoked-token", "a-token"],
)
def test_the_banner_says_what_to_do_next_given_the_registry_s_users_and_tokens(
    tmp_path: Path, users: tuple[str, ...], tokens: tuple[str, ...], revoked: tuple[str, ...], expected: list[list[str]]
) -> None:
    data = tmp_path / "data"
    run_cli(data, "init")
    for user in users:
        run_cli(data, "user", "add", user)
    for user in tokens:
        run_cli(data, "token", "create", "--user", user)
    for user in revoked:
        [token_id] = [
            line.split()[0] for line in run_cli(data, "token", "list").out.splitlines() if user in line.split()
        ]
        run_cli(data, "token", "revoke", token_id)
    steps = first_steps(str(data), open_site(data).accounts)
    assert banner_commands(steps) == expected, steps
    assert "cargo login --registry palletizer" in steps
    if users and not tokens:
        assert ", ".join(sorted(users)) in steps, "the users are named"


@pytest.mark.slow
def test_a_server_on_a_registry_with_users_but_no_token_asks_for_a_token(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli(data, "init")
    run_cli(data, "user", "add", "bob")
    with running_server(data):
        [log] = data.parent.glob("palletizer-all-*.log")
        banner = log.read_text()
    assert banner_commands(banner) == [["token", "create", "--user", "bob"]], banner


@pytest.mark.slow
def test_make_cli_prints_only_what_palletizer_prints(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli(data, "init")
    make = ["make", "--no-print-directory", "-C", str(ROOT), f"DATA={data}"]
    subprocess.run([*make, "cli", "ARGS=user add alice"], capture_output=True, check=True, timeout=300)
    created = subprocess.run(
        [*make, "cli", "ARGS=token create --user alice"], capture_output=True, text=True, check=True, timeout=300
    )
    token = created.stdout.strip()
    assert created.stdout == token + "\n" and token.startswith("pltz_"), created.stdout
    assert "alice" in run_cli(data, "token", "list").out
