"""A crate published here shadows the upstream's, in every spelling: the mirror is told which names are the
registry's own (`IsLocal`), and every read that may be answered by either asks here first (`local_first`)."""

from collections.abc import Callable
from typing import TypeVar

from palletizer_lib.domain.errors import NotFound

L = TypeVar("L")
M = TypeVar("M")

# True if crate `name`, in any spelling, is published here (so it is never asked of the upstream).
IsLocal = Callable[[str], bool]


def local_first(local: Callable[[], L], mirrored: Callable[[], M | None] | None) -> L | M:
    """What is published here (`local()`); where that is nothing (None, or `NotFound`), what the mirror has
    (`mirrored()`, None for a registry without an upstream). When the mirror has nothing either, the local
    answer stands (None, or its `NotFound` raised)."""
    try:
        found = local()
    except NotFound:
        if mirrored is None:
            raise
        there = mirrored()
        if there is None:
            raise
        return there
    if found is not None or mirrored is None:
        return found
    there = mirrored()
    return found if there is None else there
