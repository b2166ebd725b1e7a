"""The accounts database: users, tokens, owners and the audit log in SQLite."""

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from palletizer_lib.domain.errors import BadRequest, Conflict, NotFound, Unauthorized
from palletizer_lib.stores import accounts as accounts_module
from palletizer_lib.stores.accounts import (
    DEFAULT_SCOPES,
    SCOPES,
    TOKEN_PREFIX,
    Accounts,
    AuditEntry,
    Identity,
    TokenInfo,
    token_hash,
)

DAY = 86400


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "accounts.sqlite3"


@pytest.fixture
def new_accounts(db_path: Path) -> Callable[[], Accounts]:
    """Opens the test's accounts database (again)."""
    return lambda: Accounts(db_path)


@pytest.fixture
def accounts(new_accounts: Callable[[], Accounts]) -> Accounts:
    return new_accounts()


@pytest.fixture
def alice(accounts: Accounts) -> str:
    accounts.add_user("alice")
    return "alice"


def assert_login_hint(error: pytest.ExceptionInfo) -> None:
    assert "cargo login" in error.value.detail
    assert error.value.status == 401


def database_bytes(path: Path) -> bytes:
    """The main database file and, if present, its write-ahead log."""
    data = path.read_bytes()
    wal = path.with_name(path.name + "-wal")
    if wal.exists():
        data += wal.read_bytes()
    return data


# -- users ---------------------------------------------------------------------------------


def test_a_new_database_has_no_users(accounts: Accounts) -> None:
    assert accounts.users() == []


def test_add_and_list_users_sorted(accounts: Accounts) -> None:
    for name in ("carol", "alice", "Bob"):
        accounts.add_user(name)
    assert accounts.users() == sorted(["carol", "alice", "Bob"])


def test_adding_a_user_twice_is_a_conflict(accounts: Accounts, alice: str) -> None:
    with pytest.raises(Conflict) as error:
        accounts.add_user("alice")
    assert "alice" in error.value.detail
    assert accounts.users() == ["alice"]


@pytest.mark.parametrize("name", ["", "has space", "tab\there", "new\nline", " lead", "x" * 101])
def test_bad_user_names_are_refused(accounts: Accounts, name: str) -> None:
    with pytest.raises(BadRequest):
        accounts.add_user(name)
    assert accounts.users() == []


def test_a_name_of_100_characters_is_allowed(accounts: Accounts) -> None:
    accounts.add_user("x" * 100)
    assert accounts.users() == ["x" * 100]


def test_remove_user(accounts: Accounts, alice: str) -> None:
    accounts.add_user("bob")
    accounts.remove_user("alice")
    assert accounts.users() == ["bob"]


def test_removing_an_unknown_user_is_not_found(accounts: Accounts, alice: str) -> None:
    with pytest.raises(NotFound):
        accounts.remove_user("mallory")
    assert accounts.users() == ["alice"]


def test_removing_a_user_removes_their_tokens_and_ownerships(accounts: Accounts, alice: str) -> None:
    accounts.add_user("bob")
    _, token = accounts.create_token("alice")
    _, bob_token = accounts.create_token("bob")
    accounts.add_owner("foo", "alice")
    accounts.add_owner("foo", "bob")
    accounts.remove_user("alice")
    with pytest.raises(Unauthorized) as error:
        accounts.authenticate(token)
    assert_login_hint(error)
    assert [t.user for t in accounts.tokens()] == ["bob"]
    assert accounts.owners("foo") == ["bob"]
    assert accounts.authenticate(bob_token).user == "bob"


def test_a_user_added_again_after_removal_gets_nothing_back(accounts: Accounts, alice: str) -> None:
    _, token = accounts.create_token("alice")
    accounts.add_owner("foo", "alice")
    accounts.remove_user("alice")
    accounts.add_user("alice")
    assert accounts.owners("foo") == []
    assert accounts.tokens("alice") == []
    with pytest.raises(Unauthorized):
        accounts.authenticate(token)


# -- tokens --------------------------------------------------------------------------------


def test_create_token_returns_a_prefixed_token(accounts: Accounts, alice: str) -> None:
    token_id, token = accounts.create_token("alice")
    assert isinstance(token_id, int)
    assert token.startswith(TOKEN_PREFIX) and TOKEN_PREFIX == "pltz_"
    assert len(token) > len(TOKEN_PREFIX) + 20


def test_tokens_are_unique(accounts: Accounts, alice: str) -> None:
    made = [accounts.create_token("alice") for _ in range(5)]
    assert len({token for _, token in made}) == 5
    assert len({token_id for token_id, _ in made}) == 5


def test_authenticate_gives_the_identity_with_default_scopes(accounts: Accounts, alice: str) -> None:
    accounts.add_user("bob")
    accounts.create_token("bob")
    token_id, token = accounts.create_token("alice")
    identity = accounts.authenticate(token)
    assert isinstance(identity, Identity)
    assert identity.user == "alice"
    assert identity.token_id == token_id
    assert identity.scopes == frozenset(DEFAULT_SCOPES)
    assert "admin" not in identity.scopes
    assert not identity.is_admin
    assert not identity.allows("admin")
    for scope in DEFAULT_SCOPES:
        assert identity.allows(scope)


def test_user_ids_differ_between_users(accounts: Accounts, alice: str) -> None:
    accounts.add_user("bob")
    _, a = accounts.create_token("alice")
    _, b = accounts.create_token("bob")
    _, a2 = accounts.create_token("alice")
    assert accounts.authenticate(a).user_id == accounts.authenticate(a2).user_id
    assert accounts.authenticate(a).user_id != accounts.authenticate(b).user_id


def test_a_token_carries_only_its_scopes(accounts: Accounts, alice: str) -> None:
    _, token = accounts.create_token("alice", ["read", "yank", "read"])
    identity = accounts.authenticate(token)
    assert identity.scopes == frozenset({"read", "yank"})
    assert identity.allows("read") and identity.allows("yank")
    assert not identity.allows("publish")
    assert not identity.allows("owners")
    assert accounts.tokens("alice")[0].scopes == ("read", "yank")


def test_an_admin_token_allows_every_scope(accounts: Accounts, alice: str) -> None:
    _, token = accounts.create_token("alice", ["admin"])
    identity = accounts.authenticate(token)
    assert identity.is_admin
    for scope in SCOPES:
        assert identity.allows(scope)


@pytest.mark.parametrize("scopes", [["publish", "delete"], ["root"], []])
def test_unknown_or_no_scopes_are_a_bad_request(accounts: Accounts, alice: str, scopes: list[str]) -> None:
    with pytest.raises(BadRequest) as error:
        accounts.create_token("alice", scopes)
    for unknown in set(scopes) - set(SCOPES):
        assert unknown in error.value.detail
    assert accounts.tokens() == []


@pytest.mark.parametrize("days", [0, -1])
def test_expiry_must_be_positive(accounts: Accounts, alice: str, days: float) -> None:
    with pytest.raises(BadRequest):
        accounts.create_token("alice", expires_days=days)
    assert accounts.tokens() == []


def test_a_token_for_an_unknown_user_is_not_found(accounts: Accounts) -> None:
    with pytest.raises(NotFound):
        accounts.create_token("nobody")
    assert accounts.tokens() == []


@pytest.mark.parametrize("token", [None, ""])
def test_a_missing_token_is_unauthorized(accounts: Accounts, alice: str, token: str | None) -> None:
    with pytest.raises(Unauthorized) as error:
        accounts.authenticate(token)
    assert_login_hint(error)


def test_an_unknown_token_is_unauthorized(accounts: Accounts, alice: str) -> None:
    _, token = accounts.create_token("alice")
    for wrong in (TOKEN_PREFIX + "nope", token + "x", token[:-1], token.upper()):
        with pytest.raises(Unauthorized) as error:
            accounts.authenticate(wrong)
        assert_login_hint(error)


def test_a_revoked_token_is_unauthorized(accounts: Accounts, alice: str) -> None:
    token_id, token = accounts.create_token("alice")
    other_id, other = accounts.create_token("alice")
    accounts.revoke_token(token_id)
    with pytest.raises(Unauthorized) as error:
        accounts.authenticate(token)
    assert_login_hint(error)
    assert "revoked" in error.value.detail
    assert accounts.authenticate(other).token_id == other_id
    listed = {t.id: t for t in accounts.tokens()}
    assert listed[token_id].revoked is not None
    assert listed[other_id].revoked is None


def test_revoking_an_unknown_token_is_not_found(accounts: Accounts, alice: str) -> None:
    token_id, token = accounts.create_token("alice")
    with pytest.raises(NotFound):
        accounts.revoke_token(token_id + 1000)
    assert accounts.authenticate(token).user == "alice"


def test_an_expired_token_is_unauthorized(accounts: Accounts, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, token = accounts.create_token("alice", expires_days=1)
    _, lasting = accounts.create_token("alice")
    assert accounts.authenticate(token).user == "alice"
    now = time.time()
    monkeypatch.setattr(accounts_module.time, "time", lambda: now + 2 * DAY)
    with pytest.raises(Unauthorized) as error:
        accounts.authenticate(token)
    assert_login_hint(error)
    assert "expired" in error.value.detail
    assert accounts.authenticate(lasting).user == "alice"


def test_a_token_is_valid_until_it_expires(accounts: Accounts, alice: str, monkeypatch: pytest.MonkeyPatch) -> None:
    start = 1_000_000.0
    monkeypatch.setattr(accounts_module.time, "time", lambda: start)
    token_id, token = accounts.create_token("alice", expires_days=2)
    assert accounts.tokens()[0].expires == pytest.approx(start + 2 * DAY)
    monkeypatch.setattr(accounts_module.time, "time", lambda: start + 2 * DAY - 1)
    assert accounts.authenticate(token).token_id == token_id
    monkeypatch.setattr(accounts_module.time, "time", lambda: start + 2 * DAY + 1)
    with pytest.raises(Unauthorized):
        accounts.authenticate(token)


def test_tokens_lists_without_the_token_and_filters_by_user(accounts: Accounts, alice: str) -> None:
    accounts.add_user("bob")
    a1, t1 = accounts.create_token("alice")
    b1, t2 = accounts.create_token("bob", ["read"], expires_days=3)
    a2, t3 = accounts.create_token("alice", ["admin"])
    everything = accounts.tokens()
    assert [t.id for t in everything] == [a1, b1, a2]
    assert all(isinstance(t, TokenInfo) for t in everything)
    assert [t.user for t in everything] == ["alice", "bob", "alice"]
    assert everything[0].scopes == DEFAULT_SCOPES
    assert everything[0].expires is None
    assert everything[1].expires is not None and everything[1].expires > everything[1].created
    assert [t.id for t in accounts.tokens("alice")] == [a1, a2]
    assert [t.id for t in accounts.tokens("bob")] == [b1]
    assert accounts.tokens("carol") == []
    shown = repr(everything)
    for token in (t1, t2, t3):
        assert token not in shown
        assert token_hash(token) not in shown


def test_the_database_never_holds_a_token_in_plain_text(accounts: Accounts, db_path: Path, alice: str) -> None:
    made = [accounts.create_token("alice")[1] for _ in range(3)]
    made.append(accounts.create_token("alice", ["admin"], expires_days=5)[1])
    for token in made:
        accounts.authenticate(token)
    data = database_bytes(db_path)
    for token in made:
        assert token.encode() not in data
        assert token[len(TOKEN_PREFIX) :].encode() not in data
        assert token_hash(token).encode() in data


def test_token_hash_is_sha256_hex() -> None:
    assert token_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


# -- owners --------------------------------------------------------------------------------


def test_owners_are_keyed_by_the_normalised_crate_name(accounts: Accounts, alice: str) -> None:
    accounts.add_owner("Foo_Bar", "alice")
    assert accounts.owners("foo-bar") == ["alice"]
    assert accounts.owners("FOO_BAR") == ["alice"]
    assert accounts.owners("foo-baz") == []
    user_id = accounts.authenticate(accounts.create_token("alice")[1]).user_id
    assert accounts.is_owner("foo-BAR", user_id)
    assert not accounts.is_owner("other", user_id)


def test_owners_are_sorted_and_per_crate(accounts: Accounts, alice: str) -> None:
    for user in ("zed", "bob"):
        accounts.add_user(user)
    for user in ("zed", "alice", "bob"):
        accounts.add_owner("foo", user)
    accounts.add_owner("bar", "zed")
    assert accounts.owners("foo") == ["alice", "bob", "zed"]
    assert accounts.owners("bar") == ["zed"]


def test_adding_an_owner_twice_is_fine(accounts: Accounts, alice: str) -> None:
    accounts.add_owner("foo", "alice")
    accounts.add_owner("foo", "alice")
    accounts.add_owner("FOO", "alice")
    assert accounts.owners("foo") == ["alice"]


def test_adding_an_unknown_user_as_owner_is_not_found(accounts: Accounts) -> None:
    with pytest.raises(NotFound):
        accounts.add_owner("foo", "nobody")
    assert accounts.owners("foo") == []


def test_remove_owner(accounts: Accounts, alice: str) -> None:
    accounts.add_user("bob")
    accounts.add_owner("foo", "alice")
    accounts.add_owner("foo", "bob")
    accounts.remove_owner("Foo", "alice")
    assert accounts.owners("foo") == ["bob"]


def test_removing_a_non_owner_is_not_found(accounts: Accounts, alice: str) -> None:
    accounts.add_user("bob")
    accounts.add_owner("foo", "alice")
    with pytest.raises(NotFound):
        accounts.remove_owner("foo", "bob")
    with pytest.raises(NotFound):
        accounts.remove_owner("foo", "nobody")
    assert accounts.owners("foo") == ["alice"]


# -- audit ---------------------------------------------------------------------------------


def test_an_empty_audit_log(accounts: Accounts) -> None:
    assert accounts.audit() == []


def test_audit_records_every_field_in_order(accounts: Accounts) -> None:
    before = time.time()
    accounts.record("alice", "publish", "foo", "1.0.0", "10.0.0.1", "first")
    accounts.record("bob", "add owner", "foo", None, "10.0.0.2", "carol")
    accounts.record("admin", "user add")
    after = time.time()
    log = accounts.audit()
    assert all(isinstance(e, AuditEntry) for e in log)
    assert [(e.actor, e.action, e.crate, e.version, e.address, e.detail) for e in log] == [
        ("alice", "publish", "foo", "1.0.0", "10.0.0.1", "first"),
        ("bob", "add owner", "foo", None, "10.0.0.2", "carol"),
        ("admin", "user add", None, None, None, None),
    ]
    assert before <= log[0].time <= log[1].time <= log[2].time <= after


def test_audit_limit_keeps_the_newest_oldest_first(accounts: Accounts) -> None:
    for i in range(5):
        accounts.record("alice", f"action {i}")
    assert [e.action for e in accounts.audit(limit=2)] == ["action 3", "action 4"]
    assert len(accounts.audit()) == 5


# -- sharing the database --------------------------------------------------------------------


def test_two_accounts_objects_see_each_others_writes(new_accounts: Callable[[], Accounts]) -> None:
    first, second = new_accounts(), new_accounts()
    first.add_user("alice")
    assert second.users() == ["alice"]
    second.add_user("bob")
    assert first.users() == ["alice", "bob"]
    token_id, token = first.create_token("alice")
    assert second.authenticate(token).token_id == token_id
    second.add_owner("foo", "bob")
    assert first.owners("foo") == ["bob"]
    second.revoke_token(token_id)
    with pytest.raises(Unauthorized):
        first.authenticate(token)
    first.record("alice", "publish", "foo", "1.0.0")
    assert [e.action for e in second.audit()] == ["publish"]
    with pytest.raises(Conflict):
        second.add_user("alice")


def test_reopening_the_database_keeps_everything(new_accounts: Callable[[], Accounts]) -> None:
    first = new_accounts()
    first.add_user("alice")
    _, token = first.create_token("alice")
    first.add_owner("foo", "alice")
    reopened = new_accounts()
    assert reopened.users() == ["alice"]
    assert reopened.authenticate(token).user == "alice"
    assert reopened.owners("foo") == ["alice"]


def test_concurrent_token_creation_from_several_threads(new_accounts: Callable[[], Accounts]) -> None:
    shared = new_accounts()
    other = new_accounts()
    shared.add_user("alice")
    threads_count, per_thread = 8, 10
    made: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads_count)

    def work(index: int) -> None:
        accounts = shared if index % 2 else other
        try:
            start.wait()
            for _ in range(per_thread):
                token_id, token = accounts.create_token("alice")
                assert accounts.authenticate(token).token_id == token_id
                accounts.record("alice", "token create", detail=str(token_id))
                with lock:
                    made.append((token_id, token))
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    total = threads_count * per_thread
    assert len(made) == total
    assert len({token_id for token_id, _ in made}) == total
    assert len({token for _, token in made}) == total
    assert len(shared.tokens("alice")) == total
    assert len(other.audit(limit=1000)) == total
    for token_id, token in made[:5]:
        assert shared.authenticate(token).token_id == token_id
