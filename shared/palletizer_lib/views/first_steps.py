"""What an administrator does next so that someone can publish, read from the registry's accounts."""

import enum
import time
from dataclasses import dataclass

from palletizer_lib.stores.protocols import AccountStore


class FirstStep(enum.Enum):
    """The next step towards a first publish."""

    ADD_USER = "add a user, then make a token for them"
    CREATE_TOKEN = "make a token for one of the users"
    LOGIN = "log cargo in with a token"


@dataclass(frozen=True)
class PublishingSetup:
    """The next step, and the registry's users (sorted) to name in it."""

    step: FirstStep
    users: tuple[str, ...]


def publishing_setup(accounts: AccountStore, now: float | None = None) -> PublishingSetup:
    """No user yet: add one; users but no token that may be used at `now` (none, or all revoked or
    expired): make one; else cargo only has to log in."""
    users = tuple(accounts.users())
    if not users:
        return PublishingSetup(FirstStep.ADD_USER, users)
    moment = time.time() if now is None else now
    if not any(token.usable(moment) for token in accounts.tokens()):
        return PublishingSetup(FirstStep.CREATE_TOKEN, users)
    return PublishingSetup(FirstStep.LOGIN, users)
