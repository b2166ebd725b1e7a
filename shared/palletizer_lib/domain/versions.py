"""Semantic versions as Cargo uses them: parsing, precedence, equality without build metadata."""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import total_ordering
from typing import TypeVar

from palletizer_lib.domain.errors import InvalidCrate, NotFound

_NUM = r"0|[1-9][0-9]*"
_IDENT = r"[0-9A-Za-z-]+"
_SEMVER_RE = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_IDENT}(?:\.{_IDENT})*))?"
    rf"(?:\+(?P<build>{_IDENT}(?:\.{_IDENT})*))?\Z"
)
_MAX_COMPONENT = 2**64 - 1
MAX_VERSION_LENGTH = 128
_Entry = TypeVar("_Entry", bound=Mapping[str, object])
# A pre-release's precedence: (1,) for none, else 0 then each identifier's (numeric?, number, text).
_PreKey = tuple[int | tuple[int, int, str], ...]


@total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A parsed semantic version; ordering follows SemVer precedence (build metadata ignored)."""

    major: int
    minor: int
    patch: int
    pre: tuple[str, ...]
    build: str

    @property
    def is_prerelease(self) -> bool:
        """True for versions like `1.0.0-alpha`."""
        return bool(self.pre)

    def _key(self) -> tuple[int, int, int, _PreKey]:
        pre_key: _PreKey = (
            (1,) if not self.pre else (0, *((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre))
        )
        return (self.major, self.minor, self.patch, pre_key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __lt__(self, other: "Version") -> bool:
        return self._key() < other._key()


def parse_version(text: object) -> Version:
    """Parse a SemVer 2.0 version string, raising `InvalidCrate` if it is not one."""
    if not isinstance(text, str) or not text:
        raise InvalidCrate("the crate version is missing")
    match = _SEMVER_RE.match(text) if len(text) <= MAX_VERSION_LENGTH else None
    if not match:
        raise InvalidCrate(f"invalid version `{text[:MAX_VERSION_LENGTH]}`: expected a semantic version like 1.2.3")
    numbers = [int(match[k]) for k in ("major", "minor", "patch")]
    if any(n > _MAX_COMPONENT for n in numbers):
        raise InvalidCrate(f"invalid version `{text}`: a number is larger than 2^64-1")
    pre = tuple(match["pre"].split(".")) if match["pre"] else ()
    for part in pre:
        if part.isdigit() and len(part) > 1 and part.startswith("0"):
            raise InvalidCrate(f"invalid version `{text}`: numeric pre-release parts may not have leading zeros")
    major, minor, patch = numbers
    return Version(major, minor, patch, pre, match["build"] or "")


def is_valid_version(text: str) -> bool:
    """True if `text` is a version `parse_version` accepts."""
    try:
        parse_version(text)
    except InvalidCrate:
        return False
    return True


def max_version(entries: Sequence[Mapping[str, object]]) -> str:
    """The version search shows of index entries (each with `vers` and `yanked`): the highest not yanked,
    preferring releases over pre-releases."""
    live = [e for e in entries if not e["yanked"]] or entries
    # a `vers` that parses is a string
    versions: list[tuple[Version, str]] = [(parse_version(e["vers"]), str(e["vers"])) for e in live]
    releases = [v for v in versions if not v[0].is_prerelease] or versions
    return max(releases, key=lambda v: v[0])[1]


def find_version(name: str, entries: Sequence[_Entry], version: str) -> _Entry:
    """The entry of `version` among crate `name`'s `entries`: the one spelled so, else the one equal to it by
    SemVer (build metadata aside); NotFound if there is none."""
    for entry in entries:
        if entry["vers"] == version:
            return entry
    if is_valid_version(version):
        wanted = parse_version(version)
        for entry in entries:
            if parse_version(entry["vers"]) == wanted:
                return entry
    raise NotFound(f"crate `{name}` has no version {version}")
