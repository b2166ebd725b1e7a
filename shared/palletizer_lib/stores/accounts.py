"""Users, API tokens, crate owners and the audit log, in SQLite (`accounts.sqlite3`; in PostgreSQL through
`postgres_tables`).

Only a SHA-256 of each token is stored; a token is shown once, when created. The
database runs in WAL mode with a busy timeout, so the api service and the CLI can
use it at the same time.
"""

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass

from palletizer_lib.domain.errors import BadRequest, Conflict, NotFound, Unauthorized
from palletizer_lib.domain.names import normalise
from palletizer_lib.stores.migrations import ACCOUNTS
from palletizer_lib.stores.sql import Connection
from palletizer_lib.stores.sqlite import SqliteStore

SCOPES = ("publish", "yank", "owners", "read", "admin")
DEFAULT_SCOPES = ("publish", "yank", "owners", "read")
TOKEN_PREFIX = "pltz_"
_DAY = 86400
MAX_USER_NAME = 100

LOGIN_HINT = "run `cargo login --registry NAME` with a token from the registry's administrator"


@dataclass(frozen=True)
class Identity:
    """Who a valid token belongs to, and what it may do."""

    user: str
    user_id: int
    token_id: int
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.scopes

    def allows(self, scope: str) -> bool:
        """True if the token carries `scope` (admin carries every scope)."""
        return self.is_admin or scope in self.scopes


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself."""

    id: int
    user: str
    scopes: tuple[str, ...]
    created: float
    expires: float | None
    revoked: float | None

    def usable(self, now: float) -> bool:
        """True if the token is neither revoked nor expired at `now`."""
        return self.revoked is None and (self.expires is None or self.expires >= now)


@dataclass(frozen=True)
class AuditEntry:
    """One recorded change."""

    time: float
    actor: str
    action: str
    crate: str | None
    version: str | None
    address: str | None
    detail: str | None


def token_hash(token: str) -> str:
    """What is stored of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_user_name(name: object) -> str:
    """`name` if it can name a user (up to 100 characters without spaces), else `BadRequest`."""
    if not isinstance(name, str) or not name or any(c.isspace() for c in name) or len(name) > MAX_USER_NAME:
        raise BadRequest(f"invalid user name `{name}`: use up to {MAX_USER_NAME} characters without spaces")
    return name


class Accounts(SqliteStore):
    """The accounts database of one registry."""

    schema = ACCOUNTS

    # -- users -----------------------------------------------------------------------------

    def add_user(self, name: str) -> None:
        """Create a user; names are free text without spaces, unique."""
        check_user_name(name)
        with self._db() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"user `{name}` already exists")
            db.execute("INSERT INTO users (name, created) VALUES (?, ?)", (name, time.time()))

    def remove_user(self, name: str) -> None:
        """Delete a user with their tokens and ownerships."""
        with self._db() as db:
            if db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"no user `{name}`")

    def users(self) -> list[str]:
        """Every user name, sorted."""
        with self._read() as db:
            return [row[0] for row in db.execute("SELECT name FROM users ORDER BY name")]

    def _user_id(self, db: Connection, name: str) -> int:
        row = db.execute("SELECT id FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no user `{name}` (create it with `palletizer user add {name}`)")
        return int(row[0])

    # -- tokens ----------------------------------------------------------------------------

    def create_token(
        self, user: str, scopes: Iterable[str] = DEFAULT_SCOPES, expires_days: float | None = None
    ) -> tuple[int, str]:
        """Make a token for `user`: (its id, the token). Only its hash is kept."""
        chosen = tuple(dict.fromkeys(scopes))
        unknown = [s for s in chosen if s not in SCOPES]
        if unknown or not chosen:
            raise BadRequest(f"unknown scope(s) {', '.join(unknown) or '(none)'}: choose from {', '.join(SCOPES)}")
        if expires_days is not None and expires_days <= 0:
            raise BadRequest("--expires must be a positive number of days")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        expires = now + expires_days * _DAY if expires_days is not None else None
        with self._db() as db:
            row = db.execute(
                "INSERT INTO tokens (user_id, hash, scopes, created, expires) VALUES (?, ?, ?, ?, ?) RETURNING id",
                (self._user_id(db, user), token_hash(token), " ".join(chosen), now, expires),
            ).fetchone()
            return row[0], token

    def tokens(self, user: str | None = None) -> list[TokenInfo]:
        """Every token (of `user`), oldest first."""
        query = (
            "SELECT t.id, u.name, t.scopes, t.created, t.expires, t.revoked "
            "FROM tokens t JOIN users u ON u.id = t.user_id"
        )
        with self._read() as db:
            rows = db.execute(query + (" WHERE u.name = ?" if user else "") + " ORDER BY t.id", (user,) if user else ())
            return [TokenInfo(r[0], r[1], tuple(r[2].split()), r[3], r[4], r[5]) for r in rows]

    def revoke_token(self, token_id: int) -> None:
        """Make a token unusable from now on."""
        with self._db() as db:
            updated = db.execute(
                "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL", (time.time(), token_id)
            ).rowcount
            if not updated and db.execute("SELECT 1 FROM tokens WHERE id = ?", (token_id,)).fetchone() is None:
                raise NotFound(f"no token with id {token_id}")

    def authenticate(self, token: str | None) -> Identity:
        """The identity behind `token`, or `Unauthorized` saying what to do."""
        if not token:
            raise Unauthorized(f"this registry needs a token: {LOGIN_HINT}")
        wanted = token_hash(token)
        with self._read() as db:
            row = db.execute(
                "SELECT t.id, t.hash, t.scopes, t.expires, t.revoked, u.id, u.name "
                "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?",
                (wanted,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[1], wanted):
            raise Unauthorized(f"the token is not valid for this registry: {LOGIN_HINT}")
        if row[4] is not None:
            raise Unauthorized(f"the token has been revoked: {LOGIN_HINT}")
        if row[3] is not None and row[3] < time.time():
            raise Unauthorized(f"the token has expired: {LOGIN_HINT}")
        return Identity(user=row[6], user_id=row[5], token_id=row[0], scopes=frozenset(row[2].split()))

    # -- owners ----------------------------------------------------------------------------

    def owners(self, crate: str) -> list[str]:
        """The owners of a crate (any spelling of its name), sorted."""
        with self._read() as db:
            rows = db.execute(
                "SELECT u.name FROM owners o JOIN users u ON u.id = o.user_id WHERE o.crate = ? ORDER BY u.name",
                (normalise(crate),),
            )
            return [row[0] for row in rows]

    def is_owner(self, crate: str, user_id: int) -> bool:
        """True if the user owns the crate."""
        with self._read() as db:
            return (
                db.execute(
                    "SELECT 1 FROM owners WHERE crate = ? AND user_id = ?", (normalise(crate), user_id)
                ).fetchone()
                is not None
            )

    def add_owner(self, crate: str, user: str) -> None:
        """Make `user` an owner of `crate` (no error if already)."""
        with self._db() as db:
            db.execute(
                "INSERT INTO owners (crate, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (normalise(crate), self._user_id(db, user)),
            )

    def change_owners(self, crate: str, users: list[str], add: bool, actor: str, address: str | None) -> None:
        """Add or remove several owners in one transaction, with its audit entry; a crate keeps one owner."""
        key = normalise(crate)
        with self._db() as db:
            ids = [self._user_id(db, user) for user in users]
            for user, user_id in zip(users, ids, strict=True):
                if add:
                    db.execute(
                        "INSERT INTO owners (crate, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, user_id)
                    )
                elif not db.execute("DELETE FROM owners WHERE crate = ? AND user_id = ?", (key, user_id)).rowcount:
                    raise NotFound(f"`{user}` is not an owner of crate `{crate}`")
            if not db.execute("SELECT 1 FROM owners WHERE crate = ?", (key,)).fetchone():
                raise Conflict(f"crate `{crate}` must keep at least one owner")
            self._record(db, actor, "add owners" if add else "remove owners", crate, None, address, ", ".join(users))

    def remove_owner(self, crate: str, user: str) -> None:
        """Take `user` off the owners of `crate`."""
        with self._db() as db:
            removed = db.execute(
                "DELETE FROM owners WHERE crate = ? AND user_id = ?", (normalise(crate), self._user_id(db, user))
            ).rowcount
            if not removed:
                raise NotFound(f"`{user}` is not an owner of crate `{crate}`")

    # -- audit -----------------------------------------------------------------------------

    def record(
        self,
        actor: str,
        action: str,
        crate: str | None = None,
        version: str | None = None,
        address: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Append one entry to the audit log."""
        with self._db() as db:
            self._record(db, actor, action, crate, version, address, detail)

    @staticmethod
    def _record(
        db: Connection,
        actor: str,
        action: str,
        crate: str | None,
        version: str | None,
        address: str | None,
        detail: str | None,
    ) -> None:
        db.execute(
            "INSERT INTO audit (time, actor, action, crate, version, address, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (time.time(), actor, action, crate, version, address, detail),
        )

    def audit(self, limit: int = 100) -> list[AuditEntry]:
        """The newest `limit` audit entries, oldest first."""
        with self._read() as db:
            rows = db.execute(
                "SELECT time, actor, action, crate, version, address, detail FROM audit ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [AuditEntry(*row) for row in reversed(rows)]
