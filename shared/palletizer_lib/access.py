"""Who may do what: tokens, scopes and crate ownership around a registry.

Front ends pass the raw `Authorization` header and the client's address; this
module decides, records changes in the audit log, and rate-limits failed tokens.
"""

import base64
import binascii
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from .accounts import Accounts, Identity
from .catalog import Catalog
from .errors import AlreadyPublished, Forbidden, NotFound, TooManyRequests, Unauthorized
from .registry import Registry

MAX_FAILURES = 10
FAILURE_WINDOW = 60.0
_TRACKED_ADDRESSES = 10_000


def token_from_header(authorization: str | None) -> str | None:
    """The token in an `Authorization` header: cargo's raw token, `Bearer T`, or Basic auth's password."""
    scheme, _, rest = (authorization or "").strip().partition(" ")
    rest = rest.strip()
    if scheme.lower() == "bearer":
        return rest or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2] or None
    return scheme or None


class FailureLimiter:
    """Refuses a client address that sent `max_failures` bad tokens within `window` seconds."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = FAILURE_WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max, self._window, self._clock = max_failures, window, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        """Raise `TooManyRequests` while `address` is over the limit."""
        with self._lock:
            recent = self._recent(address) if address in self._failures else ()
            if len(recent) >= self._max:
                wait = int(recent[0] + self._window - self._clock()) + 1
                raise TooManyRequests(f"too many invalid tokens from {address}; try again in {wait} seconds", wait)

    def failed(self, address: str) -> None:
        """Count one bad token from `address`."""
        with self._lock:
            self._recent(address).append(self._clock())
            self._failures.move_to_end(address)
            while len(self._failures) > _TRACKED_ADDRESSES:
                self._failures.popitem(last=False)

    def _recent(self, address: str) -> deque[float]:
        times = self._failures.setdefault(address, deque())
        while times and times[0] <= self._clock() - self._window:
            times.popleft()
        return times


class Access:
    """The registry's operations, each checked against the caller's token."""

    def __init__(self, registry: Registry, accounts: Accounts, limiter: FailureLimiter | None = None,
                 catalog: Catalog | None = None) -> None:
        self.registry = registry
        self.accounts = accounts
        self.catalog = catalog or Catalog(registry.layout.catalog)
        self._limiter = limiter or FailureLimiter()

    def identify(self, authorization: str | None, address: str) -> Identity:
        """The identity behind the header's token; a bad token counts against `address`."""
        self._limiter.check(address)
        token = token_from_header(authorization)
        try:
            return self.accounts.authenticate(token)
        except Unauthorized:
            if token:
                self._limiter.failed(address)
            raise

    def require(self, authorization: str | None, address: str, scope: str) -> Identity:
        """Like `identify`, and the token must carry `scope`."""
        identity = self.identify(authorization, address)
        if not identity.allows(scope):
            raise Forbidden(f"this token of `{identity.user}` lacks the `{scope}` scope; "
                            f"ask for one with `palletizer token create --user {identity.user} --scope {scope}`")
        return identity

    def check_read(self, authorization: str | None, address: str) -> None:
        """Reads need a `read` token only when the registry sets `auth_required`."""
        if self.registry.config.auth_required:
            self.require(authorization, address, "read")

    def publish(self, who: Identity, address: str, metadata: dict, crate: bytes | memoryview) -> dict:
        """Publish as `who` (from `require(..., "publish")`, checked before the body is read): a new
        crate gets them as owner, others need ownership.

        A name that still has owners (say, its versions were removed) stays theirs.
        """
        if not who.allows("publish"):
            raise Forbidden(f"this token of `{who.user}` lacks the `publish` scope")
        became_owner: list[str] = []

        def authorize(name: str, exists: bool) -> None:
            if exists or self.accounts.owners(name):
                self._check_owner(who, name)
            else:
                self.accounts.add_owner(name, who.user)
                became_owner.append(name)

        try:
            entry = self.registry.publish(metadata, crate, authorize)
        except AlreadyPublished as exc:
            if not exc.identical:
                raise
            entry = self._retried(metadata)
            # The first attempt may have failed after its commit, before the catalog (say, on a full disk).
            self.catalog.record_version(entry["name"], entry["vers"], who.user, metadata)
            return entry
        except BaseException:
            for name in became_owner:
                if not self.registry.is_published(name, str(metadata.get("vers"))):
                    self.accounts.remove_owner(name, who.user)
            raise
        self.accounts.record(who.user, "publish", entry["name"], entry["vers"], address)
        self.catalog.record_version(entry["name"], entry["vers"], who.user, metadata)
        return entry

    def _retried(self, metadata: dict) -> dict:
        """The entry of a version published before with the same bytes: a retried upload succeeds."""
        name, vers = str(metadata["name"]), str(metadata["vers"])
        return next(e for e in self.registry.entries(name) if e["vers"] == vers)

    def set_yanked(self, authorization: str | None, address: str, name: str, version: str, yanked: bool) -> None:
        """Yank or unyank as an owner (or admin)."""
        who = self.require(authorization, address, "yank")
        self._check_owner(who, self._existing(name))
        self.registry.set_yanked(name, version, yanked)
        self.accounts.record(who.user, "yank" if yanked else "unyank", self._existing(name), version, address)

    def owners(self, name: str) -> list[str]:
        """The owners of a crate: readable wherever reads are (the caller checks `check_read`)."""
        return self.accounts.owners(self._existing(name))

    def change_owners(self, authorization: str | None, address: str, name: str, users: list[str],
                      add: bool) -> str:
        """Add or remove owners as an owner (or admin), all or none; a crate keeps at least one owner. The
        message is crates.io's (for an owner added at once, as crates.io adds a team)."""
        who = self.require(authorization, address, "owners")
        crate = self._existing(name)
        self._check_owner(who, crate)
        self.accounts.change_owners(crate, users, add, actor=who.user, address=address)
        if not add:
            return "owners successfully removed"
        return ",".join(f"user {user} has been added as an owner of crate {crate}" for user in users)

    def _existing(self, name: str) -> str:
        canonical = self.registry.canonical_name(name)
        if canonical is None:
            raise NotFound(f"crate `{name}` does not exist in this registry")
        return canonical

    def _check_owner(self, who: Identity, crate: str) -> None:
        if not (who.is_admin or self.accounts.is_owner(crate, who.user_id)):
            raise Forbidden(f"`{who.user}` is not an owner of crate `{crate}`; an owner can add you "
                            f"with `cargo owner --add {who.user} {crate}`")
