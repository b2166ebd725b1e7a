"""What is published here answers first; the mirror only where it has nothing, and the local answer stands
when the mirror has nothing either."""

from collections.abc import Callable

import pytest

from palletizer_lib.domain.errors import NotFound
from palletizer_lib.mirror.shadowing import local_first


def _missing() -> str:
    raise NotFound("not here")


def _unasked() -> str:
    raise AssertionError("the mirror was asked for a name published here")


def test_a_local_answer_is_never_asked_of_the_mirror() -> None:
    assert local_first(lambda: "local", _unasked) == "local"


@pytest.mark.parametrize("local", [lambda: None, _missing])
def test_the_mirror_answers_where_the_registry_has_nothing(local: Callable[[], str | None]) -> None:
    assert local_first(local, lambda: "mirrored") == "mirrored"


def test_without_the_mirror_or_an_answer_from_it_the_local_answer_stands() -> None:
    assert local_first(lambda: None, None) is None
    assert local_first(lambda: None, lambda: None) is None
    for mirrored in (None, lambda: None):
        with pytest.raises(NotFound, match="not here"):
            local_first(_missing, mirrored)


def test_the_mirror_s_own_refusal_is_raised() -> None:
    def refused() -> str:
        raise NotFound("not upstream either")

    with pytest.raises(NotFound, match="not upstream either"):
        local_first(_missing, refused)
