"""Who may do what: tokens in headers, the failure limiter, and Access around a registry, then the operations
as the actor it returns (as the web API's resources call them)."""

import base64
from pathlib import Path

import pytest

from palletizer_lib.core import access as access_module
from palletizer_lib.core.access import Access, FailureLimiter, token_from_header
from palletizer_lib.core.operations import Operations
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import (
    Conflict,
    Forbidden,
    InvalidCrate,
    NotFound,
    StorageError,
    TooManyRequests,
    Unauthorized,
)
from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from tests.support import publishing
from tests.support.cratekit import make_crate, metadata

ADDRESS = "10.0.0.1"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def accounts(tmp_path: Path) -> Accounts:
    accounts = Accounts(tmp_path / "accounts.sqlite3")
    for user in ("alice", "bob", "root"):
        accounts.add_user(user)
    return accounts


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def access(registry: Registry, accounts: Accounts, clock: Clock) -> Access:
    return Access(registry, accounts, FailureLimiter(max_failures=3, window=60, clock=clock))


@pytest.fixture
def alice(accounts: Accounts) -> str:
    return accounts.create_token("alice")[1]


@pytest.fixture
def bob(accounts: Accounts) -> str:
    return accounts.create_token("bob")[1]


@pytest.fixture
def admin(accounts: Accounts) -> str:
    return accounts.create_token("root", ["admin"])[1]


def operations_of(access: Access) -> Operations:
    return Operations(access.registry, access.accounts, Catalog(access.registry.layout.catalog))


def publish(access: Access, token: str | None, name: str, version: str, address: str = ADDRESS) -> dict:
    who = access.require(token, address, "publish")
    return publishing.publish_as(operations_of(access), who, name, version)


def set_yanked(access: Access, token: str | None, address: str, name: str, version: str, yanked: bool) -> None:
    operations_of(access).set_yanked(access.require(token, address, "yank"), name, version, yanked)


def change_owners(access: Access, token: str | None, address: str, name: str, users: list[str], add: bool) -> str:
    return operations_of(access).change_owners(access.require(token, address, "owners"), name, users, add)


def versions(registry: Registry, name: str) -> list[str]:
    return [e["vers"] for e in registry.entries(name)]


# -- token_from_header ---------------------------------------------------------------------


def test_a_raw_token_is_the_token() -> None:
    assert token_from_header("pltz_abc") == "pltz_abc"
    assert token_from_header("  pltz_abc \n") == "pltz_abc"


def test_a_bearer_token() -> None:
    assert token_from_header("Bearer pltz_abc") == "pltz_abc"
    assert token_from_header("bearer  pltz_abc ") == "pltz_abc"


def test_basic_auth_gives_the_password() -> None:
    assert token_from_header(basic("alice", "pltz_abc")) == "pltz_abc"
    assert token_from_header(basic("alice", "pltz:with:colons")) == "pltz:with:colons"
    assert token_from_header("basic " + base64.b64encode(b":pltz_x").decode()) == "pltz_x"


@pytest.mark.parametrize(
    "header",
    [
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic " + base64.b64encode(b"alice:").decode(),
        "Basic " + base64.b64encode(b"no-colon").decode(),
    ],
)
def test_bad_basic_auth_gives_no_token(header: str) -> None:
    assert token_from_header(header) is None


@pytest.mark.parametrize("header", [None, ""])
def test_no_header_gives_no_token(header: str | None) -> None:
    assert token_from_header(header) is None


def test_a_blank_header_gives_no_usable_token() -> None:
    assert not token_from_header("   ")


# -- FailureLimiter ------------------------------------------------------------------------


def test_the_limiter_lets_a_client_in_below_the_limit(clock: Clock) -> None:
    limiter = FailureLimiter(max_failures=3, window=60, clock=clock)
    limiter.check(ADDRESS)
    limiter.failed(ADDRESS)
    limiter.failed(ADDRESS)
    limiter.check(ADDRESS)


def test_the_limiter_blocks_after_max_failures_with_a_wait(clock: Clock) -> None:
    limiter = FailureLimiter(max_failures=3, window=60, clock=clock)
    for _ in range(3):
        limiter.failed(ADDRESS)
        clock.now += 1
    with pytest.raises(TooManyRequests) as error:
        limiter.check(ADDRESS)
    assert error.value.status == 429
    # the first failure was at 1000, now is 1003: it leaves the window in 57 seconds
    assert "58 seconds" in error.value.detail and error.value.retry_after == 58
    assert ADDRESS in error.value.detail


def test_the_limiter_does_not_affect_other_addresses(clock: Clock) -> None:
    limiter = FailureLimiter(max_failures=3, window=60, clock=clock)
    for _ in range(5):
        limiter.failed(ADDRESS)
    limiter.check("10.0.0.2")
    limiter.failed("10.0.0.2")
    limiter.check("10.0.0.2")
    with pytest.raises(TooManyRequests):
        limiter.check(ADDRESS)


def test_the_window_expiring_lets_the_client_in_again(clock: Clock) -> None:
    limiter = FailureLimiter(max_failures=3, window=60, clock=clock)
    for _ in range(3):
        limiter.failed(ADDRESS)
    clock.now += 59.5
    with pytest.raises(TooManyRequests) as error:
        limiter.check(ADDRESS)
    assert "1 seconds" in error.value.detail
    clock.now += 0.5
    limiter.check(ADDRESS)
    # old failures no longer count: two new ones stay under the limit, a third blocks again
    limiter.failed(ADDRESS)
    limiter.failed(ADDRESS)
    limiter.check(ADDRESS)
    limiter.failed(ADDRESS)
    with pytest.raises(TooManyRequests):
        limiter.check(ADDRESS)


def test_failures_slide_out_of_the_window_one_by_one(clock: Clock) -> None:
    limiter = FailureLimiter(max_failures=2, window=10, clock=clock)
    limiter.failed(ADDRESS)
    clock.now += 5
    limiter.failed(ADDRESS)
    with pytest.raises(TooManyRequests):
        limiter.check(ADDRESS)
    clock.now += 5  # the first failure leaves the window, the second is still in it
    limiter.check(ADDRESS)
    limiter.failed(ADDRESS)
    with pytest.raises(TooManyRequests):
        limiter.check(ADDRESS)


def test_checking_many_addresses_keeps_the_table_bounded(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_module, "_TRACKED_ADDRESSES", 5)
    limiter = FailureLimiter(max_failures=3, window=60, clock=clock)
    for i in range(50):
        limiter.check(f"10.0.1.{i}")
    assert len(limiter._failures) <= 5


# -- identify ------------------------------------------------------------------------------


def test_identify_accepts_every_header_form(access: Access, alice: str) -> None:
    for header in (alice, f"Bearer {alice}", basic("alice", alice)):
        assert access.identify(header, ADDRESS).user == "alice"


def test_missing_tokens_do_not_count_as_failures(access: Access, alice: str) -> None:
    for _ in range(10):
        for header in (None, ""):
            with pytest.raises(Unauthorized) as error:
                access.identify(header, ADDRESS)
            assert "cargo login" in error.value.detail
    assert access.identify(alice, ADDRESS).user == "alice"


def test_bad_tokens_over_the_limit_get_429_while_valid_tokens_and_none_are_served(access: Access, alice: str) -> None:
    for _ in range(3):
        with pytest.raises(Unauthorized):
            access.identify("pltz_wrong", ADDRESS)
    with pytest.raises(TooManyRequests) as error:
        access.identify("pltz_wrong", ADDRESS)
    assert error.value.retry_after >= 1
    # another client behind the same address (a NAT, a front) is not locked out
    assert access.identify(alice, ADDRESS).user == "alice"
    with pytest.raises(Unauthorized):
        access.identify(None, ADDRESS)
    with pytest.raises(TooManyRequests):
        access.identify("pltz_wrong", ADDRESS)
    with pytest.raises(Unauthorized):
        access.identify("pltz_wrong", "10.0.0.2")


def test_bad_tokens_over_the_limit_are_still_counted(access: Access, clock: Clock) -> None:
    for _ in range(3):  # at 1000
        with pytest.raises(Unauthorized):
            access.identify("pltz_wrong", ADDRESS)
    clock.now += 30
    for _ in range(3):  # at 1030: refused, and counted
        with pytest.raises(TooManyRequests):
            access.identify("pltz_wrong", ADDRESS)
    clock.now += 40  # 1070: the first three have left the window, the refused three have not
    with pytest.raises(TooManyRequests):
        access.identify("pltz_wrong", ADDRESS)


def test_a_limited_address_gets_401_again_after_the_window(access: Access, clock: Clock) -> None:
    for _ in range(3):
        with pytest.raises(Unauthorized):
            access.identify("Bearer pltz_wrong", ADDRESS)
    with pytest.raises(TooManyRequests):
        access.identify("Bearer pltz_wrong", ADDRESS)
    clock.now += 61
    with pytest.raises(Unauthorized):
        access.identify("Bearer pltz_wrong", ADDRESS)


def test_revoked_tokens_count_as_failures(access: Access, accounts: Accounts) -> None:
    token_id, token = accounts.create_token("alice")
    accounts.revoke_token(token_id)
    for _ in range(3):
        with pytest.raises(Unauthorized):
            access.identify(token, ADDRESS)
    with pytest.raises(TooManyRequests):
        access.identify(token, ADDRESS)


def test_valid_tokens_do_not_count_as_failures(access: Access, alice: str) -> None:
    for _ in range(2):
        with pytest.raises(Unauthorized):
            access.identify("pltz_wrong", ADDRESS)
    for _ in range(5):
        access.identify(alice, ADDRESS)
    with pytest.raises(Unauthorized):
        access.identify("pltz_wrong", ADDRESS)
    with pytest.raises(TooManyRequests):
        access.identify("pltz_wrong", ADDRESS)


# -- publish -------------------------------------------------------------------------------


def test_publish_without_a_token_is_unauthorized(access: Access, registry: Registry, accounts: Accounts) -> None:
    with pytest.raises(Unauthorized) as error:
        publish(access, None, "foo", "1.0.0")
    assert "cargo login" in error.value.detail
    assert registry.canonical_name("foo") is None
    assert accounts.owners("foo") == []
    assert accounts.audit() == []


def test_publish_with_a_bad_token_is_unauthorized(access: Access, registry: Registry) -> None:
    with pytest.raises(Unauthorized):
        publish(access, "pltz_wrong", "foo", "1.0.0")
    assert registry.canonical_name("foo") is None


def test_publish_needs_the_publish_scope(access: Access, registry: Registry, accounts: Accounts) -> None:
    _, token = accounts.create_token("alice", ["read", "yank", "owners"])
    with pytest.raises(Forbidden) as error:
        publish(access, token, "foo", "1.0.0")
    assert "`publish`" in error.value.detail
    assert "alice" in error.value.detail
    assert registry.canonical_name("foo") is None
    assert accounts.owners("foo") == []


def test_the_first_publisher_becomes_the_owner(
    access: Access, registry: Registry, accounts: Accounts, alice: str
) -> None:
    entry = publish(access, f"Bearer {alice}", "Foo_Bar", "1.0.0", address="192.0.2.7")
    assert (entry["name"], entry["vers"]) == ("Foo_Bar", "1.0.0")
    assert versions(registry, "Foo_Bar") == ["1.0.0"]
    assert accounts.owners("foo-bar") == ["alice"]
    [record] = accounts.audit()
    assert (record.actor, record.action, record.crate, record.version, record.address) == (
        "alice",
        "publish",
        "Foo_Bar",
        "1.0.0",
        "192.0.2.7",
    )


def test_the_owner_publishes_new_versions(access: Access, registry: Registry, accounts: Accounts, alice: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    publish(access, alice, "foo", "1.1.0")
    assert versions(registry, "foo") == ["1.0.0", "1.1.0"]
    assert accounts.owners("foo") == ["alice"]
    assert [(e.action, e.version) for e in accounts.audit()] == [("publish", "1.0.0"), ("publish", "1.1.0")]


def test_another_user_cannot_publish_to_a_crate_they_do_not_own(
    access: Access, registry: Registry, accounts: Accounts, alice: str, bob: str
) -> None:
    publish(access, alice, "foo", "1.0.0")
    before = registry.entries("foo")
    audit_before = accounts.audit()
    with pytest.raises(Forbidden) as error:
        publish(access, bob, "foo", "1.1.0")
    assert "cargo owner --add bob foo" in error.value.detail
    assert registry.entries("foo") == before
    assert not registry.layout.crate_file("foo", "1.1.0").exists()
    assert accounts.owners("foo") == ["alice"]
    assert accounts.audit() == audit_before


def test_a_refused_publish_does_not_count_as_a_bad_token(access: Access, alice: str, bob: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    for i in range(5):
        with pytest.raises(Forbidden):
            publish(access, bob, "foo", f"1.{i + 1}.0")
    assert access.identify(bob, ADDRESS).user == "bob"


def test_an_added_owner_can_publish(
    access: Access, registry: Registry, accounts: Accounts, alice: str, bob: str
) -> None:
    publish(access, alice, "foo", "1.0.0")
    message = change_owners(access, alice, ADDRESS, "foo", ["bob"], add=True)
    assert message == "user bob has been added as an owner of crate foo"
    assert accounts.owners("foo") == ["alice", "bob"]
    publish(access, bob, "foo", "1.1.0")
    assert versions(registry, "foo") == ["1.0.0", "1.1.0"]


def test_an_admin_token_can_publish_to_any_crate(
    access: Access, registry: Registry, accounts: Accounts, alice: str, admin: str
) -> None:
    publish(access, alice, "foo", "1.0.0")
    publish(access, admin, "foo", "1.1.0")
    assert versions(registry, "foo") == ["1.0.0", "1.1.0"]
    assert accounts.owners("foo") == ["alice"]
    assert accounts.audit()[-1].actor == "root"


def test_a_new_crate_published_with_a_mismatched_manifest_leaves_no_owner(
    access: Access, registry: Registry, accounts: Accounts, alice: str
) -> None:
    with pytest.raises(InvalidCrate):
        operations_of(access).publish(
            access.require(alice, ADDRESS, "publish"), metadata("foo", "1.0.0"), make_crate("bar", "1.0.0")
        )
    assert registry.canonical_name("foo") is None
    assert accounts.owners("foo") == []
    assert accounts.owners("bar") == []
    assert accounts.audit() == []


def test_a_new_spelling_of_an_existing_crate_leaves_no_owner(
    access: Access, registry: Registry, accounts: Accounts, alice: str, bob: str
) -> None:
    publish(access, alice, "Foo_Bar", "1.0.0")
    with pytest.raises(Conflict):
        publish(access, bob, "foo-bar", "2.0.0")
    assert accounts.owners("foo-bar") == ["alice"]
    assert versions(registry, "Foo_Bar") == ["1.0.0"]


def test_a_new_crate_whose_store_fails_leaves_no_owner(
    access: Access, registry: Registry, accounts: Accounts, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_commit(*args: object, **kwargs: object) -> None:
        raise StorageError("disk full")

    monkeypatch.setattr(registry.log, "commit", broken_commit)
    with pytest.raises(StorageError):
        publish(access, alice, "foo", "1.0.0")
    assert accounts.owners("foo") == []
    assert accounts.audit() == []
    assert registry.canonical_name("foo") is None


def test_a_publish_that_fails_after_its_commit_keeps_the_publisher_as_owner(
    access: Access, registry: Registry, accounts: Accounts, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_serve = registry.index._serve_path

    def serve_failing_after_commit(path: str, content: bytes | None, descriptions: dict) -> None:
        if descriptions:  # only the serving right after a publish's commit passes descriptions
            raise StorageError("disk full")
        real_serve(path, content, descriptions)

    monkeypatch.setattr(registry.index, "_serve_path", serve_failing_after_commit)
    with pytest.raises(StorageError):
        publish(access, alice, "foo", "1.0.0")
    monkeypatch.undo()
    publishing.publish(registry, "other")  # any later write
    # completes the interrupted one
    assert versions(registry, "foo") == ["1.0.0"]
    assert accounts.owners("foo") == ["alice"]


def test_a_crate_without_owners_is_open_only_to_admins(
    access: Access, registry: Registry, accounts: Accounts, alice: str, admin: str
) -> None:
    registry.add(make_crate("foo", "1.0.0"))  # as `palletizer add` does: no owner
    with pytest.raises(Forbidden):
        publish(access, alice, "foo", "1.1.0")
    publish(access, admin, "foo", "1.1.0")
    assert versions(registry, "foo") == ["1.0.0", "1.1.0"]
    assert accounts.owners("foo") == []


def test_a_failed_publish_keeps_a_previous_ownership(
    access: Access, registry: Registry, accounts: Accounts, alice: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts.add_owner("foo", "alice")  # reserved for alice before the first publish

    def broken_commit(*args: object, **kwargs: object) -> None:
        raise StorageError("disk full")

    monkeypatch.setattr(registry.log, "commit", broken_commit)
    with pytest.raises(StorageError):
        publish(access, alice, "foo", "1.0.0")
    assert accounts.owners("foo") == ["alice"]


def test_a_duplicate_version_is_a_conflict_and_keeps_owners(
    access: Access, registry: Registry, accounts: Accounts, alice: str
) -> None:
    publish(access, alice, "foo", "1.0.0")
    other_bytes = make_crate("foo", "1.0.0", 'description = "different bytes"\n')
    with pytest.raises(Conflict):
        operations_of(access).publish(access.require(alice, ADDRESS, "publish"), metadata("foo", "1.0.0"), other_bytes)
    assert accounts.owners("foo") == ["alice"]
    assert len(accounts.audit()) == 1


# -- set_yanked ------------------------------------------------------------------------------


def test_the_owner_yanks_and_unyanks(access: Access, registry: Registry, accounts: Accounts, alice: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    set_yanked(access, alice, "192.0.2.9", "FOO", "1.0.0", True)
    assert registry.entries("foo")[0]["yanked"] is True
    set_yanked(access, alice, ADDRESS, "foo", "1.0.0", False)
    assert registry.entries("foo")[0]["yanked"] is False
    log = accounts.audit()
    assert [(e.actor, e.action, e.crate, e.version, e.address) for e in log[1:]] == [
        ("alice", "yank", "foo", "1.0.0", "192.0.2.9"),
        ("alice", "unyank", "foo", "1.0.0", ADDRESS),
    ]


def test_yank_needs_the_yank_scope(access: Access, registry: Registry, accounts: Accounts, alice: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    _, token = accounts.create_token("alice", ["publish", "owners", "read"])
    with pytest.raises(Forbidden) as error:
        set_yanked(access, token, ADDRESS, "foo", "1.0.0", True)
    assert "`yank`" in error.value.detail
    assert registry.entries("foo")[0]["yanked"] is False


def test_yank_needs_ownership(access: Access, registry: Registry, accounts: Accounts, alice: str, bob: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    with pytest.raises(Forbidden) as error:
        set_yanked(access, bob, ADDRESS, "foo", "1.0.0", True)
    assert "cargo owner --add bob foo" in error.value.detail
    assert registry.entries("foo")[0]["yanked"] is False
    assert [e.action for e in accounts.audit()] == ["publish"]


def test_yank_without_a_token_is_unauthorized(access: Access, registry: Registry, alice: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    with pytest.raises(Unauthorized):
        set_yanked(access, None, ADDRESS, "foo", "1.0.0", True)
    assert registry.entries("foo")[0]["yanked"] is False


def test_an_admin_can_yank_any_crate(access: Access, registry: Registry, alice: str, admin: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    set_yanked(access, admin, ADDRESS, "foo", "1.0.0", True)
    assert registry.entries("foo")[0]["yanked"] is True


def test_yanking_an_unknown_crate_is_not_found(access: Access, alice: str) -> None:
    with pytest.raises(NotFound):
        set_yanked(access, alice, ADDRESS, "nothing", "1.0.0", True)


# -- owners ----------------------------------------------------------------------------------


def test_owners_by_any_spelling(access: Access, alice: str) -> None:
    publish(access, alice, "Foo_Bar", "1.0.0")
    assert operations_of(access).owners("foo-bar") == ["alice"]
    assert operations_of(access).owners("Foo_Bar") == ["alice"]


def test_owners_of_an_unknown_crate_is_not_found(access: Access, accounts: Accounts, alice: str) -> None:
    accounts.add_owner("ghost", "alice")  # an owner row alone does not make a crate
    with pytest.raises(NotFound) as error:
        operations_of(access).owners("ghost")
    assert error.value.status == 404


# -- change_owners -----------------------------------------------------------------------------


def test_change_owners_adds_and_removes_with_audit(access: Access, accounts: Accounts, alice: str, bob: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    change_owners(access, alice, "192.0.2.1", "FOO", ["bob"], add=True)
    assert accounts.owners("foo") == ["alice", "bob"]
    message = change_owners(access, bob, "192.0.2.2", "foo", ["alice"], add=False)
    assert message == "owners successfully removed"
    assert accounts.owners("foo") == ["bob"]
    log = accounts.audit()
    assert [(e.actor, e.action, e.crate, e.address, e.detail) for e in log[1:]] == [
        ("alice", "add owners", "foo", "192.0.2.1", "bob"),
        ("bob", "remove owners", "foo", "192.0.2.2", "alice"),
    ]


def test_change_owners_refuses_to_remove_the_last_owner(
    access: Access, accounts: Accounts, alice: str, bob: str
) -> None:
    publish(access, alice, "foo", "1.0.0")
    with pytest.raises(Conflict):
        change_owners(access, alice, ADDRESS, "foo", ["alice"], add=False)
    change_owners(access, alice, ADDRESS, "foo", ["bob"], add=True)
    with pytest.raises(Conflict):
        change_owners(access, alice, ADDRESS, "foo", ["alice", "bob"], add=False)
    assert accounts.owners("foo") == ["alice", "bob"]
    assert [e.action for e in accounts.audit()] == ["publish", "add owners"]


def test_change_owners_needs_the_owners_scope(access: Access, accounts: Accounts, alice: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    _, token = accounts.create_token("alice", ["publish", "yank", "read"])
    with pytest.raises(Forbidden) as error:
        change_owners(access, token, ADDRESS, "foo", ["bob"], add=True)
    assert "`owners`" in error.value.detail
    assert accounts.owners("foo") == ["alice"]


def test_change_owners_needs_ownership(access: Access, accounts: Accounts, alice: str, bob: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    with pytest.raises(Forbidden):
        change_owners(access, bob, ADDRESS, "foo", ["bob"], add=True)
    with pytest.raises(Forbidden):
        change_owners(access, bob, ADDRESS, "foo", ["alice"], add=False)
    assert accounts.owners("foo") == ["alice"]
    assert [e.action for e in accounts.audit()] == ["publish"]


def test_an_admin_can_change_any_owners(access: Access, accounts: Accounts, alice: str, admin: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    change_owners(access, admin, ADDRESS, "foo", ["bob"], add=True)
    change_owners(access, admin, ADDRESS, "foo", ["alice"], add=False)
    assert accounts.owners("foo") == ["bob"]


def test_change_owners_of_an_unknown_crate_is_not_found(access: Access, alice: str) -> None:
    with pytest.raises(NotFound):
        change_owners(access, alice, ADDRESS, "nothing", ["bob"], add=True)


def test_adding_an_unknown_user_as_owner_is_not_found(access: Access, accounts: Accounts, alice: str) -> None:
    publish(access, alice, "foo", "1.0.0")
    with pytest.raises(NotFound):
        change_owners(access, alice, ADDRESS, "foo", ["nobody"], add=True)
    assert accounts.owners("foo") == ["alice"]


def test_a_failed_change_of_several_owners_changes_nothing_unrecorded(
    access: Access, accounts: Accounts, alice: str
) -> None:
    publish(access, alice, "foo", "1.0.0")
    with pytest.raises(NotFound):
        change_owners(access, alice, ADDRESS, "foo", ["bob", "nobody"], add=True)
    changed = accounts.owners("foo") != ["alice"]
    recorded = [e.action for e in accounts.audit()] != ["publish"]
    assert changed == recorded


# -- check_read ----------------------------------------------------------------------------------


def test_check_read_is_open_without_auth_required(access: Access, registry: Registry) -> None:
    assert registry.config.auth_required is False
    assert access.check_read(None, ADDRESS) is None
    assert access.check_read("pltz_wrong", ADDRESS) is None


def test_check_read_needs_a_read_token_with_auth_required(
    access: Access, registry: Registry, accounts: Accounts, alice: str, admin: str
) -> None:
    registry.config.auth_required = True
    with pytest.raises(Unauthorized):
        access.check_read(None, ADDRESS)
    with pytest.raises(Unauthorized):
        access.check_read("pltz_wrong", ADDRESS)
    _, publish_only = accounts.create_token("bob", ["publish"])
    with pytest.raises(Forbidden) as error:
        access.check_read(publish_only, ADDRESS)
    assert "`read`" in error.value.detail
    _, read_only = accounts.create_token("bob", ["read"])
    access.check_read(read_only, ADDRESS)
    access.check_read(f"Bearer {alice}", ADDRESS)
    access.check_read(admin, "10.0.0.9")
