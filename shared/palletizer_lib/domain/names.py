"""Crate names: validation, normalisation and the index path rules."""

import json
import re

from palletizer_lib.domain.errors import InvalidCrate

MAX_NAME_LENGTH = 64

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")
_DEPENDENCY_NAME_RE = re.compile(rf"[A-Za-z_][A-Za-z0-9_-]{{0,{MAX_NAME_LENGTH - 1}}}\Z")

_WINDOWS_DEVICES = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(1, 10)),
    *(f"lpt{i}" for i in range(1, 10)),
}

_RESERVED = {
    "alloc",
    "core",
    "proc-macro",
    "proc_macro",
    "std",
    "test",
}


def normalise(name: str) -> str:
    """The key under which two spellings of a name are the same crate (case, `-`/`_`)."""
    return name.lower().replace("_", "-")


def validate_name(name: object) -> str:
    """Return `name` if it is a valid crate name, else raise `InvalidCrate`."""
    if not isinstance(name, str) or not name:
        raise InvalidCrate("the crate name is missing")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidCrate(f"the crate name `{name[:MAX_NAME_LENGTH]}...` is longer than {MAX_NAME_LENGTH} characters")
    if not _NAME_RE.match(name):
        raise InvalidCrate(
            f"invalid crate name `{name}`: use ASCII letters, digits, `-` and `_`, starting with a letter"
        )
    lowered = name.lower()
    if lowered in _WINDOWS_DEVICES:
        raise InvalidCrate(f"the crate name `{name}` is a reserved Windows device name")
    if lowered in _RESERVED:
        raise InvalidCrate(f"the crate name `{name}` is reserved")
    return name


def validate_dependency_name(name: object, what: str = "dependency name") -> str:
    """Return `name` if crates.io accepts it as a dependency's name (its package, or the key renaming it in
    Cargo.toml), else raise `InvalidCrate`: ASCII letters, digits, `-` and `_`, starting with a letter or `_`,
    at most 64. The rules for registering a new crate (reserved and Windows device names) do not apply: a
    dependency names a crate that exists elsewhere, or renames one (`core = { package = "..." }`)."""
    if not isinstance(name, str) or not _DEPENDENCY_NAME_RE.match(name):
        raise InvalidCrate(
            f"invalid {what} {json.dumps(name)[:80]}: use ASCII letters, digits, `-` and `_`, "
            f"starting with a letter or `_`, at most {MAX_NAME_LENGTH}"
        )
    return name


def is_valid_name(name: str) -> bool:
    """True if `name` passes `validate_name`."""
    try:
        validate_name(name)
    except InvalidCrate:
        return False
    return True


def index_path(name: str) -> str:
    """The index file's path for `name`, relative to the index root (Cargo's rules, lowercase)."""
    lowered = name.lower()
    if len(lowered) == 1:
        return f"1/{lowered}"
    if len(lowered) == 2:
        return f"2/{lowered}"
    if len(lowered) == 3:
        return f"3/{lowered[0]}/{lowered}"
    return f"{lowered[0:2]}/{lowered[2:4]}/{lowered}"


CRATE_SUFFIX = ".crate"


def crate_file_name(name: str, version: str) -> str:
    """The file name of one version's crate file, as cargo downloads it: `NAME-VERSION.crate`."""
    return f"{name}-{version}{CRATE_SUFFIX}"


def crate_key(name: str, version: str) -> str:
    """The key of one version's crate file, `NAME/NAME-VERSION.crate` (name and version already validated)."""
    return f"{name}/{crate_file_name(name, version)}"


def version_of_file(name: str, file_name: str) -> str | None:
    """The version a crate file of crate `name` is named for (`NAME-VERSION.crate`), None if it is not one."""
    prefix = f"{name}-"
    if not (file_name.startswith(prefix) and file_name.endswith(CRATE_SUFFIX)):
        return None
    return file_name[len(prefix) : -len(CRATE_SUFFIX)]
