"""Every query parameter of every route is checked: a 400 in Cargo's error JSON otherwise."""

import pytest

from tests.support.bad_queries import BAD, DIGITS
from tests.support.http import assert_error
from tests.support.inprocess import InProcess


@pytest.mark.parametrize("path", BAD)
def test_a_bad_query_parameter_is_400_in_cargo_json(app: InProcess, path: str) -> None:
    assert_error(app.get(path), 400)


@pytest.mark.parametrize(
    "path",
    [
        "/?page=1",
        "/?page=999999999",
        "/?q=%C3%A9t%C3%A9",
        "/?q=",
        "/?q",
        f"/?q={'x' * 256}",
        "/api/v1/crates?q=a&per_page=100",
    ],
)
def test_good_query_parameters_are_answered(app: InProcess, path: str) -> None:
    assert app.get(path).status_code == 200


def test_the_details_say_what_is_wrong(app: InProcess) -> None:
    assert "`page` must be a whole number from 1 to" in assert_error(app.get(f"/?page={DIGITS}"), 400)
    assert "`q` is given 2 times" in assert_error(app.get("/?q=a&q=b"), 400)
    assert "at most 256" in assert_error(app.get(f"/api/v1/crates?q={'y' * 300}"), 400)
    assert "not UTF-8" in assert_error(app.get("/?q=%FF"), 400)
