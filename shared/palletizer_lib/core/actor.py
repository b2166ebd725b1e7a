"""Who makes a change, and from where: a token's user at the client's address, or the command line."""

import getpass
from dataclasses import dataclass

from palletizer_lib.stores.accounts import Identity

LOCAL = "local"


@dataclass(frozen=True)
class Actor:
    """The name the audit log records, the address, and the identity of a token (None: the command line,
    which manages every crate)."""

    name: str
    address: str
    identity: Identity | None = None

    @classmethod
    def user(cls, identity: Identity, address: str) -> "Actor":
        """A token's user, from the client address `address`."""
        return cls(identity.user, address, identity)

    @classmethod
    def command_line(cls) -> "Actor":
        """Whoever runs `palletizer` here: `cli:USER` at `local`."""
        try:
            return cls(f"cli:{getpass.getuser()}", LOCAL)
        except (KeyError, OSError):
            return cls("cli", LOCAL)

    @property
    def manages_every_crate(self) -> bool:
        """True for the command line and for admin tokens."""
        return self.identity is None or self.identity.is_admin
