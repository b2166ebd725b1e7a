"""Real cargo against a registry that checks tokens: owners, revocation, and private reads."""

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from palletizer_lib.core.access import FAILURE_WINDOW
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.names import index_path
from palletizer_lib.settings.config import RegistryConfig
from tests.support.cargo import REGISTRY, Cargo, write_crate
from tests.support.cli import run_cli
from tests.support.graph import reg
from tests.support.server import running_server


@dataclass
class Served:
    root: Path
    url: str
    data: Path
    tokens: dict[str, str]

    def cargo(self, name: str, token: str | None, index: str = "sparse", with_cli: bool = False) -> Cargo:
        index_url = f"sparse+{self.url}/index/" if index == "sparse" else f"{self.url}/git/index"
        return Cargo.create(self.root / name, index_url, git_fetch_with_cli=with_cli, token=token)


def _lib(root: Path, name: str, version: str, body: str = "pub fn v() -> u32 { 1 }\n", deps: str = "") -> Path:
    toml = (
        f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\nlicense = "MIT"\n'
        f'description = "{name}"\n\n[dependencies]\n{deps}'
    )
    return write_crate(root / "src" / f"{name}-{version}", name, toml, {"src/lib.rs": body})


def _serve(tmp_path_factory: pytest.TempPathFactory, auth_required: bool) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("auth")
    data = root / "data"
    Registry.create(data, RegistryConfig(auth_required=auth_required))
    tokens = {}
    for user in ("alice", "bob"):
        run_cli(data, "user", "add", user)
        tokens[user] = run_cli(data, "token", "create", "--user", user).out.strip()
    with running_server(data) as url:
        yield Served(root, url, data, tokens)


@pytest.fixture(scope="module")
def open_reads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from _serve(tmp_path_factory, auth_required=False)


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from _serve(tmp_path_factory, auth_required=True)


def test_publish_needs_a_valid_token(open_reads: Served) -> None:
    crate = _lib(open_reads.root, "guarded", "0.1.0")
    no_token = open_reads.cargo("no-token", None).run(
        crate, "publish", "--registry", REGISTRY, "--no-verify", "--allow-dirty", check=False
    )
    assert no_token.returncode != 0 and "cargo login" in no_token.stderr
    bad = open_reads.cargo("bad-token", "pltz_not-a-real-token").run(
        crate, "publish", "--registry", REGISTRY, "--no-verify", "--allow-dirty", check=False
    )
    assert bad.returncode != 0
    assert "401" in bad.stderr and "the token is not valid for this registry" in bad.stderr
    open_reads.cargo("alice-publish", open_reads.tokens["alice"]).publish(crate)
    assert run_cli(open_reads.data, "owner", "list", "guarded").out.split() == ["alice"]


def test_only_owners_publish_until_cargo_owner_adds_someone(open_reads: Served) -> None:
    alice = open_reads.cargo("alice-owner", open_reads.tokens["alice"])
    bob = open_reads.cargo("bob-owner", open_reads.tokens["bob"])
    alice.publish(_lib(open_reads.root, "shared_lib", "0.1.0"))
    refused = bob.run(
        _lib(open_reads.root, "shared_lib", "0.2.0"),
        "publish",
        "--registry",
        REGISTRY,
        "--no-verify",
        "--allow-dirty",
        check=False,
    )
    assert refused.returncode != 0
    assert "403" in refused.stderr and "`bob` is not an owner of crate `shared_lib`" in refused.stderr
    assert "cargo owner --add bob shared_lib" in refused.stderr

    added = alice.run(open_reads.root, "owner", "--registry", REGISTRY, "--add", "bob", "shared_lib").stderr
    assert "Owner user bob has been added as an owner of crate shared_lib" in added, added
    listed = bob.run(open_reads.root, "owner", "--registry", REGISTRY, "--list", "shared_lib").stdout
    assert "alice" in listed and "bob" in listed
    bob.publish(_lib(open_reads.root, "shared_lib", "0.2.0"))
    bob.run(open_reads.root, "yank", "--registry", REGISTRY, "shared_lib@0.1.0")

    audit = run_cli(open_reads.data, "audit").out
    assert "alice\tpublish\tshared_lib 0.1.0\t127.0.0.1" in audit
    assert "alice\tadd owners\tshared_lib bob\t127.0.0.1" in audit
    assert "bob\tpublish\tshared_lib 0.2.0\t127.0.0.1" in audit
    assert "bob\tyank\tshared_lib 0.1.0\t127.0.0.1" in audit


def test_a_revoked_token_is_refused(open_reads: Served) -> None:
    run_cli(open_reads.data, "user", "add", "carol")
    created = run_cli(open_reads.data, "token", "create", "--user", "carol")
    token = created.out.strip()
    assert created.out == token + "\n", "the token alone on stdout"
    token_id = created.err.split()[1]
    carol = open_reads.cargo("carol", token)
    carol.publish(_lib(open_reads.root, "carols", "0.1.0"))
    run_cli(open_reads.data, "token", "revoke", token_id)
    refused = carol.run(open_reads.root, "yank", "--registry", REGISTRY, "carols@0.1.0", check=False)
    assert refused.returncode != 0
    assert "401" in refused.stderr and "the token has been revoked" in refused.stderr


def test_the_database_never_holds_a_token(open_reads: Served) -> None:
    stored = b"".join(path.read_bytes() for path in open_reads.data.glob("accounts.sqlite3*"))
    assert stored
    for token in open_reads.tokens.values():
        assert token.encode() not in stored
        assert token.split("_", 1)[1].encode() not in stored


def test_private_reads_need_a_token_and_cargo_builds_with_one(private: Served) -> None:
    alice = private.cargo("alice-private", private.tokens["alice"])
    alice.publish(_lib(private.root, "secret", "0.1.0", "pub fn v() -> u32 { 41 }\n"))
    app = write_crate(
        private.root / "apps",
        "private_app",
        '[package]\nname = "private_app"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n'
        + reg("secret", "0.1"),
        {"src/main.rs": 'fn main() { println!("{}", secret::v() + 1); }\n'},
    )

    anonymous = private.cargo("anonymous", None)
    refused = anonymous.run(app, "build", check=False)
    assert refused.returncode != 0
    assert "token" in refused.stderr and "cargo login" in refused.stderr
    wrong = private.cargo("wrong", "pltz_wrong")
    refused = wrong.run(app, "build", check=False)
    assert refused.returncode != 0 and "401" in refused.stderr

    reader = private.cargo("reader", private.tokens["bob"])
    assert reader.run(app, "run", "-q").stdout.strip() == "42"


def test_private_index_and_downloads_refuse_anonymous_requests(private: Served) -> None:
    token = private.tokens["alice"]
    private.cargo("alice-dl", token).publish(_lib(private.root, "hidden", "0.1.0"))
    for path in (
        "/index/config.json",
        f"/index/{index_path('hidden')}",
        "/files/hidden/hidden-0.1.0.crate",
        "/api/v1/crates?q=hidden",
    ):
        anonymous = requests.get(private.url + path, timeout=10)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["WWW-Authenticate"] == f'Cargo login_url="{private.url}/me"'
        assert "errors" in anonymous.json()
        assert requests.get(private.url + path, headers={"Authorization": token}, timeout=10).status_code == 200
    config = requests.get(private.url + "/index/config.json", headers={"Authorization": token}, timeout=10).json()
    assert config["auth-required"] is True


def test_private_git_index_with_a_credential_helper(private: Served, tmp_path: Path) -> None:
    token = private.tokens["alice"]
    private.cargo("alice-git", token).publish(_lib(private.root, "gitsecret", "0.1.0", "pub fn v() -> u32 { 6 }\n"))
    refused = subprocess.run(
        ["git", "clone", "-q", f"{private.url}/git/index", str(tmp_path / "anon")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GIT_TERMINAL_PROMPT": "0"},
    )
    assert refused.returncode != 0
    assert "could not read Username" in refused.stderr, "git was asked for credentials (401 + Basic challenge)"
    challenge = requests.get(f"{private.url}/git/index/info/refs", params={"service": "git-upload-pack"}, timeout=10)
    assert challenge.status_code == 401 and challenge.headers["WWW-Authenticate"].startswith("Basic ")

    helper = f"!f() {{ echo username=cargo; echo password={token}; }}; f"
    cargo = private.cargo("git-cli", token, index="git", with_cli=True)
    app = write_crate(
        private.root / "apps",
        "git_private_app",
        '[package]\nname = "git_private_app"\nversion = "0.1.0"\nedition = "2021"\n\n'
        "[dependencies]\n" + reg("gitsecret", "0.1"),
        {"src/main.rs": 'fn main() { println!("{}", gitsecret::v() * 7); }\n'},
    )
    env = cargo.env() | {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "credential.helper",
        "GIT_CONFIG_VALUE_0": helper,
        "GIT_TERMINAL_PROMPT": "0",
    }
    built = subprocess.run(["cargo", "run", "-q"], cwd=app, env=env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == "42"


def test_tokens_never_reach_the_server_log(open_reads: Served) -> None:
    requests.put(
        f"{open_reads.url}/api/v1/crates/new",
        data=b"\0" * 8,
        timeout=10,
        headers={"Authorization": open_reads.tokens["alice"]},
    )
    logs = b"".join(path.read_bytes() for path in open_reads.root.glob("palletizer-all-*.log"))
    assert b"Serving on" in logs
    for token in open_reads.tokens.values():
        assert token.encode() not in logs


@pytest.fixture
def fresh_private(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server of its own: the failures counted by this test must not reach other tests."""
    yield from _serve(tmp_path_factory, auth_required=True)


def test_repeated_bad_tokens_are_rate_limited(fresh_private: Served) -> None:
    private = fresh_private
    url = f"{private.url}/index/config.json"
    statuses = [
        requests.get(url, headers={"Authorization": f"pltz_guess{i}"}, timeout=10).status_code for i in range(12)
    ]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    limited = requests.get(url, headers={"Authorization": "pltz_guess12"}, timeout=10)
    assert "too many invalid tokens" in limited.json()["errors"][0]["detail"]
    assert 1 <= int(limited.headers["Retry-After"]) <= FAILURE_WINDOW + 1
    # another user behind the same address is served, and one without a token is told to log in
    assert requests.get(url, headers={"Authorization": private.tokens["alice"]}, timeout=10).status_code == 200
    assert requests.get(url, timeout=10).status_code == 401
    publish = requests.put(
        f"{private.url}/api/v1/crates/new",
        data=b"\0" * 64,
        headers={"Authorization": private.tokens["alice"]},
        timeout=10,
    )
    assert publish.status_code == 400
