"""A crate published here shadows the upstream's, in every spelling: the mirror is told which names are the
registry's own (`IsLocal`)."""

from collections.abc import Callable

# True if crate `name`, in any spelling, is published here (so it is never asked of the upstream).
IsLocal = Callable[[str], bool]
