"""A .crate file read in one pass: its name and version, its packaged Cargo.toml, its README and its checksum.

Every check of `crate_file.read_manifest` applies (a whole gzip tar, at most `unpacked_limit` bytes
inflated, only regular files and directories under `NAME-VERSION/`, each path once); the archive is
streamed once, never extracted.
"""

import hashlib
import tarfile
from dataclasses import dataclass

from palletizer_lib.domain.crate_file import (
    NOT_A_TAR,
    TAR_ERRORS,
    MemberCheck,
    manifest_bytes_of,
    members,
    open_tar,
    package_table,
    parse_manifest,
    read_member,
    split_name_version,
)
from palletizer_lib.domain.errors import InvalidCrate

README_LIMIT = 1024 * 1024
# The keys of `[package]` that cargo's publish metadata carries as they are (`description` first).
DESCRIBED_KEYS = (
    "description",
    "homepage",
    "repository",
    "documentation",
    "license",
    "keywords",
    "categories",
    "authors",
)


@dataclass(frozen=True)
class PackagedCrate:
    """What a .crate file holds that the registry reads."""

    name: str
    version: str
    manifest: dict[str, object]
    readme: str | None
    checksum: str
    has_main: bool = False

    @property
    def bin_names(self) -> list[str]:
        """The binaries the crate builds: its `[[bin]]` targets, else its package's name if it packages
        `src/main.rs` (unless `autobins = false`)."""
        targets = self.manifest.get("bin")
        names = (
            [t["name"] for t in targets if isinstance(t, dict) and isinstance(t.get("name"), str)]
            if isinstance(targets, list)
            else []
        )
        if not names and self.has_main and self.package.get("autobins") is not False:
            names = [self.name]
        return names

    @property
    def package(self) -> dict[str, object]:
        """The `[package]` table of the packaged Cargo.toml."""
        return package_table(self.manifest)

    @property
    def description(self) -> str:
        """The package's description, empty if it has none."""
        description = self.package.get("description")
        return description if isinstance(description, str) else ""

    def described(self) -> dict[str, object]:
        """What cargo's publish metadata would say of this crate: description, links, keywords, and the
        README it packages, the binaries it builds (for the catalog)."""
        return {
            **{key: self.package.get(key) for key in DESCRIBED_KEYS},
            "readme": self.readme,
            "bin_names": self.bin_names,
        }


class _Reading:
    """The state of one pass over a .crate's members."""

    def __init__(self, identity: tuple[str, str] | None) -> None:
        self.identity = identity
        self.check: MemberCheck | None = MemberCheck(f"{identity[0]}-{identity[1]}") if identity else None
        self.manifest: dict[str, object] | None = None
        self.refused: InvalidCrate | None = None
        self.readme: bytes | None = None
        self.seen_before_manifest: set[str] = set()
        self.has_main = False

    def top(self) -> str:
        name, version = self.identity or ("", "")
        return f"{name}-{version}"

    def readme_member(self) -> str | None:
        path = package_table(self.manifest).get("readme") if self.manifest else None
        return f"{self.top()}/{path}" if isinstance(path, str) and path else None

    def first(self, member: tarfile.TarInfo) -> None:
        """Take the name and version from the first member's top directory, when not given."""
        top = member.name.split("/", 1)[0]
        name, sep, version = split_name_version(top)
        if not sep:
            raise InvalidCrate(f"the .crate file's top directory `{top}` is not NAME-VERSION")
        self.identity = (name, version)
        self.check = MemberCheck(top)

    def member(self, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        assert self.check is not None and self.identity is not None
        self.check(member)
        if member.name == f"{self.top()}/src/main.rs" and member.isfile():
            self.has_main = True
        if member.name == f"{self.top()}/Cargo.toml":
            content = manifest_bytes_of(archive, member)
            try:
                self.manifest = parse_manifest(content, *self.identity)
            except InvalidCrate as refused:
                self.refused = refused  # raised once every member has passed its checks, as before
            return
        if self.manifest is None and self.refused is None:
            self.seen_before_manifest.add(member.name)
        elif member.name == self.readme_member() and member.isfile() and member.size <= README_LIMIT:
            extracted = archive.extractfile(member)
            self.readme = extracted.read() if extracted else None


def read_packaged(
    crate: bytes | memoryview, unpacked_limit: int, identity: tuple[str, str] | None = None
) -> PackagedCrate:
    """Read a .crate in one pass; InvalidCrate if it is not one `cargo package` could have made.

    `identity` is the (name, version) it must be for (a publish's metadata); without it they come from
    the archive's top directory `NAME-VERSION/`. A README stored before Cargo.toml (never so in an
    archive `cargo package` made) costs a second pass.
    """
    digest = hashlib.sha256()
    reading = _Reading(identity)
    try:
        with open_tar(crate, unpacked_limit, digest) as archive:
            for member in members(archive):
                if reading.check is None:
                    reading.first(member)
                reading.member(archive, member)
    except TAR_ERRORS as exc:
        raise InvalidCrate(f"{NOT_A_TAR}: {exc}") from exc
    if reading.identity is None:
        raise InvalidCrate("the .crate file is empty")
    if reading.refused is not None:
        raise reading.refused
    manifest = reading.manifest or parse_manifest(None, *reading.identity)
    readme = reading.readme
    path = reading.readme_member()
    if readme is None and path in reading.seen_before_manifest:
        readme = read_member(crate, path, unpacked_limit, README_LIMIT)
    return PackagedCrate(
        reading.identity[0],
        reading.identity[1],
        manifest,
        readme.decode("utf-8", errors="replace") if readme is not None else None,
        digest.hexdigest(),
        reading.has_main,
    )
