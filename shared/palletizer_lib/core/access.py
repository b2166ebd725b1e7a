"""Who is asking: tokens, scopes and reads around a registry.

Front ends pass the raw `Authorization` header and the client's address; this module finds the token's
identity, checks its scope, rate-limits failed tokens, and hands back the `Actor` the operations take.
"""

import base64
import binascii
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from palletizer_lib.core.actor import Actor
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import Forbidden, TooManyRequests, Unauthorized
from palletizer_lib.stores.accounts import Identity
from palletizer_lib.stores.protocols import AccountStore

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
    """Counts the bad tokens of each client address: one that sent `max_failures` within `window` seconds is
    over the limit (its bad tokens get 429 rather than 401) until the oldest of them leaves the window."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = FAILURE_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max, self._window, self._clock = max_failures, window, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        """Raise `TooManyRequests` while `address` is over the limit."""
        with self._lock:
            recent = self._recent(address) if address in self._failures else deque()
            if recent and len(recent) >= self._max:
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
        times = self._failures.setdefault(address, deque(maxlen=self._max))
        while times and times[0] <= self._clock() - self._window:
            times.popleft()
        return times


class Access:
    """Authentication for one registry: token to identity, scopes, the failure limiter, and reads."""

    def __init__(self, registry: Registry, accounts: AccountStore, limiter: FailureLimiter | None = None) -> None:
        self.registry = registry
        self.accounts = accounts
        self._limiter = limiter or FailureLimiter()

    def identify(self, authorization: str | None, address: str) -> Identity:
        """The identity behind the header's token. A bad token counts against `address`, and is answered
        `TooManyRequests` while `address` is over the limit; a valid token, or none, is never refused by the
        limit (one client cannot lock out another behind the same address, and checking a token costs no
        more than refusing it)."""
        token = token_from_header(authorization)
        try:
            return self.accounts.authenticate(token)
        except Unauthorized:
            if token:
                try:
                    self._limiter.check(address)
                finally:
                    self._limiter.failed(address)
            raise

    def require(self, authorization: str | None, address: str, scope: str) -> Actor:
        """The actor behind the header's token, which must carry `scope`."""
        identity = self.identify(authorization, address)
        if not identity.allows(scope):
            raise Forbidden(
                f"this token of `{identity.user}` lacks the `{scope}` scope; "
                f"ask for one with `palletizer token create --user {identity.user} --scope {scope}`"
            )
        return Actor.user(identity, address)

    def check_read(self, authorization: str | None, address: str) -> None:
        """Reads need a `read` token only when the registry sets `auth_required`."""
        if self.registry.config.auth_required:
            self.require(authorization, address, "read")
