"""Semantic versions: parsing, SemVer precedence and equality without build metadata."""

import itertools

import pytest

from palletizer_lib.domain.errors import InvalidCrate
from palletizer_lib.domain.versions import is_valid_version, parse_version

MAX = 2**64 - 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0", (0, 0, 0, (), "")),
        ("1.2.3", (1, 2, 3, (), "")),
        ("10.20.30", (10, 20, 30, (), "")),
        ("1.0.0-alpha", (1, 0, 0, ("alpha",), "")),
        ("1.0.0-alpha.1", (1, 0, 0, ("alpha", "1"), "")),
        ("1.0.0-0.3.7", (1, 0, 0, ("0", "3", "7"), "")),
        ("1.0.0-x-y-z.--", (1, 0, 0, ("x-y-z", "--"), "")),
        ("1.0.0+20130313144700", (1, 0, 0, (), "20130313144700")),
        ("1.0.0-beta+exp.sha.5114f85", (1, 0, 0, ("beta",), "exp.sha.5114f85")),
        ("1.0.0+build.007", (1, 0, 0, (), "build.007")),
        (f"{MAX}.{MAX}.{MAX}", (MAX, MAX, MAX, (), "")),
    ],
)
def test_valid_versions_parse(text: str, expected: tuple) -> None:
    parsed = parse_version(text)
    assert (parsed.major, parsed.minor, parsed.patch, parsed.pre, parsed.build) == expected
    assert is_valid_version(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1",
        "1.0",
        "1.0.0.0",
        "01.0.0",
        "1.01.0",
        "1.0.01",
        "v1.0.0",
        " 1.0.0",
        "1.0.0 ",
        "1.0.0\n",
        "1.0.0-",
        "1.0.0+",
        "1.0.0-alpha..1",
        "1.0.0-01",
        "1.0.0-alpha_1",
        "1.0.0+build+2",
        "-1.0.0",
        "1.0.0-é",
        "a.b.c",
        "1.0.x",
        "latest",
        "1.0.0-" + "a" * 200,
        f"{MAX + 1}.0.0",
        f"0.{MAX + 1}.0",
        f"0.0.{MAX + 1}",
        "99999999999999999999999.0.0",
    ],
)
def test_invalid_versions_are_rejected(text: str) -> None:
    with pytest.raises(InvalidCrate):
        parse_version(text)
    assert not is_valid_version(text)


@pytest.mark.parametrize("value", [None, 1, 1.0, b"1.0.0"])
def test_non_strings_are_rejected(value: object) -> None:
    with pytest.raises(InvalidCrate):
        parse_version(value)


# The SemVer 2.0 specification's example, in increasing precedence, plus a few more.
ORDERED = [
    "0.9.9",
    "1.0.0-0",
    "1.0.0-2",
    "1.0.0-10",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.2",
    "1.0.0-alpha.10",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "1.10.0",
    "2.0.0-alpha",
    "2.0.0",
    "10.0.0",
]


@pytest.mark.parametrize(("lower", "higher"), list(zip(ORDERED, ORDERED[1:], strict=False)))
def test_precedence_of_neighbours(lower: str, higher: str) -> None:
    assert parse_version(lower) < parse_version(higher)
    assert parse_version(higher) > parse_version(lower)
    assert parse_version(lower) != parse_version(higher)


def test_sorting_gives_semver_precedence() -> None:
    shuffled = list(reversed(ORDERED))
    shuffled = shuffled[1::2] + shuffled[::2]
    assert [v for _, v in sorted((parse_version(v), v) for v in shuffled)] == ORDERED
    assert all(parse_version(a) <= parse_version(b) for a, b in itertools.combinations(ORDERED, 2))


def test_numeric_prerelease_parts_sort_numerically_and_below_alphanumeric() -> None:
    assert parse_version("1.0.0-alpha.2") < parse_version("1.0.0-alpha.10")
    assert parse_version("1.0.0-alpha.99") < parse_version("1.0.0-alpha.a")
    assert parse_version("1.0.0-9") < parse_version("1.0.0-A")
    assert parse_version("1.0.0-B") < parse_version("1.0.0-a")  # ASCII order for alphanumerics


def test_equality_ignores_build_metadata() -> None:
    assert parse_version("1.0.0+a") == parse_version("1.0.0+b") == parse_version("1.0.0")
    assert hash(parse_version("1.0.0+a")) == hash(parse_version("1.0.0"))
    assert parse_version("1.0.0-rc.1+x") == parse_version("1.0.0-rc.1")
    assert not parse_version("1.0.0+a") < parse_version("1.0.0+b")
    assert parse_version("1.0.0+zzz") < parse_version("1.0.1+aaa")
    assert len({parse_version("1.0.0+a"), parse_version("1.0.0+b")}) == 1


def test_prerelease_flag() -> None:
    assert parse_version("1.0.0-rc.1").is_prerelease
    assert not parse_version("1.0.0+rc.1").is_prerelease
