"""Crate names: the index path rules, normalisation and validation."""

import pytest

from palletizer_lib.domain.errors import InvalidCrate
from palletizer_lib.domain.names import MAX_NAME_LENGTH, index_path, is_valid_name, normalise, validate_name


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("a", "1/a"),
        ("ab", "2/ab"),
        ("abc", "3/a/abc"),
        ("abcd", "ab/cd/abcd"),
        ("serde_json", "se/rd/serde_json"),
        ("cargo-foo", "ca/rg/cargo-foo"),
        ("A", "1/a"),
        ("AB", "2/ab"),
        ("AbC", "3/a/abc"),
        ("FooBar", "fo/ob/foobar"),
    ],
)
def test_index_path_follows_the_cargo_book(name: str, path: str) -> None:
    assert index_path(name) == path


def test_normalise_folds_case_and_underscores() -> None:
    assert normalise("Foo_Bar") == "foo-bar"
    assert normalise("foo-bar") == normalise("FOO_BAR") == normalise("foo_BAR")
    assert normalise("foo-bar") != normalise("foobar")


@pytest.mark.parametrize(
    "name",
    [
        "a",
        "A",
        "foo",
        "foo-bar",
        "foo_bar",
        "Foo2",
        "x-1",
        "a" * MAX_NAME_LENGTH,
        "std-ext",
        "testing",
        "con2",
        "com10",
        "lpt0x",
    ],
)
def test_valid_names_are_accepted(name: str) -> None:
    assert validate_name(name) == name
    assert is_valid_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "a" * (MAX_NAME_LENGTH + 1),
        "1foo",
        "_foo",
        "-foo",
        "fооbar",  # Cyrillic `о` look-alikes
        "\u0430bc",  # Cyrillic `а` first
        "café",
        "..",
        "a..b",
        "foo.bar",
        "foo/bar",
        "/foo",
        "foo\\bar",
        "foo\x00",
        "a\x00b",
        "foo bar",
        "foo\n",
        "foo+bar",
    ],
)
def test_malformed_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidCrate):
        validate_name(name)
    assert not is_valid_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "con",
        "CON",
        "Con",
        "prn",
        "aux",
        "nul",
        "NUL",
        "com1",
        "COM1",
        "com9",
        "lpt1",
        "lpt9",
        "LPT9",
        "Lpt5",
    ],
)
def test_windows_device_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidCrate, match="Windows device"):
        validate_name(name)


@pytest.mark.parametrize("name", ["std", "core", "alloc", "test", "proc-macro", "proc_macro", "STD", "Proc_Macro"])
def test_reserved_names_are_rejected(name: str) -> None:
    with pytest.raises(InvalidCrate, match="reserved"):
        validate_name(name)


@pytest.mark.parametrize("value", [None, 42, b"foo", ["foo"]])
def test_non_strings_are_rejected(value: object) -> None:
    with pytest.raises(InvalidCrate):
        validate_name(value)
