"""Reading a .crate file: a gzip-compressed tar holding `NAME-VERSION/Cargo.toml`."""

import contextlib
import hashlib
import io
import tarfile
import tomllib
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from palletizer_lib.domain.errors import InvalidCrate
from palletizer_lib.domain.versions import is_valid_version

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MANIFEST_LIMIT = 1024 * 1024
SHOWN_NAME_LIMIT = 200
TAR_ERRORS = (tarfile.TarError, OSError, EOFError, zlib.error)
NOT_A_TAR = "the .crate file is not a valid gzip-compressed tar archive"
_MEMBER_KINDS = {
    tarfile.SYMTYPE: "a symlink",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
}


class _GunzipReader(io.RawIOBase):
    """Inflates gzip data held in memory, without copying it, and fails past `limit` bytes out."""

    _CHUNK = 64 * 1024

    def __init__(self, data: memoryview, limit: int, digest: "hashlib._Hash | None" = None) -> None:
        self._data = data
        self._offset = 0
        self._left = limit
        self._inflater = zlib.decompressobj(wbits=31)
        self._digest = digest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: "WriteableBuffer") -> int:
        view = memoryview(buffer).cast("B")
        want = len(view)
        out = self._inflater.decompress(self._inflater.unconsumed_tail, want)
        while not out and not self._inflater.eof:
            if self._offset >= len(self._data):
                raise InvalidCrate("the .crate file is truncated (its gzip stream ends early)")
            chunk = self._data[self._offset : self._offset + self._CHUNK]
            self._offset += len(chunk)
            if self._digest is not None:
                self._digest.update(chunk)
            out = self._inflater.decompress(chunk, want)
        self._left -= len(out)
        if self._left < 0:
            raise InvalidCrate("the .crate file unpacks to more than the allowed size")
        view[: len(out)] = out
        return len(out)

    def digest_rest(self) -> None:
        """Feed the bytes not yet inflated (after the gzip stream's end) to the digest too."""
        if self._digest is not None:
            self._digest.update(self._data[self._offset :])
            self._offset = len(self._data)


@contextlib.contextmanager
def open_tar(
    crate: bytes | memoryview, unpacked_limit: int, digest: "hashlib._Hash | None" = None
) -> Iterator[tarfile.TarFile]:
    """The archive as a tar stream, at most `unpacked_limit` bytes inflated; on leaving, the rest is read so
    a truncated gzip is refused. Every byte of `crate` goes through `digest` if given."""
    if bytes(crate[:2]) != b"\x1f\x8b":
        raise InvalidCrate("the .crate file is not gzip-compressed (expected a .tar.gz made by `cargo package`)")
    reader = _GunzipReader(memoryview(crate), unpacked_limit, digest)
    stream = io.BufferedReader(reader)
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        yield archive
    while stream.read(_GunzipReader._CHUNK):
        pass
    reader.digest_rest()


def members(archive: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """Each member in turn, forgetting those already read: tarfile keeps them all otherwise, so an
    archive of many tiny members would take far more memory than its size."""
    while (member := archive.next()) is not None:
        yield member
        archive.members.clear()  # type: ignore[attr-defined]  # TarFile's list of members read so far


def _shown(path: str) -> str:
    """A member's path as an error message can show it: on one line, at most SHOWN_NAME_LIMIT characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in path)
    return text if len(text) <= SHOWN_NAME_LIMIT else text[:SHOWN_NAME_LIMIT] + "..."


class MemberCheck:
    """Refuses, member by member, what `cargo package` never makes and an unpacker could be tricked by:
    anything but regular files and directories, paths that are absolute, hold `..`, `.`, empty
    components or backslashes, paths outside `NAME-VERSION/`, and the same path twice."""

    def __init__(self, top: str) -> None:
        self._top = top
        self._seen: set[str] = set()

    def __call__(self, member: tarfile.TarInfo) -> None:
        path = member.name
        shown = _shown(path)
        if not (member.isfile() or member.isdir()):
            kind = _MEMBER_KINDS.get(member.type, f"a member of tar type {member.type!r}")
            raise InvalidCrate(
                f"the .crate file has {kind} `{shown}` (only regular files and directories are accepted)"
            )
        if path.startswith("/"):
            raise InvalidCrate(
                f"the .crate file has a member with an absolute path `{shown}` "
                f"(every path must be under `{self._top}/`)"
            )
        if "\\" in path or "\0" in path:
            raise InvalidCrate(f"the .crate file has a member `{shown}` whose path holds a backslash or NUL")
        parts = path.split("/")
        if ".." in parts:
            raise InvalidCrate(f"the .crate file has a member `{shown}` whose path holds `..`")
        if "." in parts or "" in parts:
            raise InvalidCrate(f"the .crate file has a member `{shown}` whose path holds an empty or `.` component")
        if parts[0] != self._top or (len(parts) == 1 and not member.isdir()):
            raise InvalidCrate(f"the .crate file has a member `{shown}` outside `{self._top}/`")
        if path in self._seen:
            raise InvalidCrate(f"the .crate file has `{shown}` more than once")
        self._seen.add(path)


def checksum(data: bytes | memoryview) -> str:
    """The `cksum` of an index entry: lowercase hex SHA-256 of the .crate bytes."""
    return hashlib.sha256(data).hexdigest()


def read_manifest(crate: bytes | memoryview, name: str, version: str, unpacked_limit: int) -> dict[str, object]:
    """Return the parsed `NAME-VERSION/Cargo.toml` of a .crate, checking it is a whole gzip tar.

    The archive is streamed to its end (so a truncated one is refused), never extracted; at most
    `unpacked_limit` bytes are decompressed. Every member must be a regular file or a directory
    under `NAME-VERSION/`, each path once (see `MemberCheck`).
    """
    wanted = f"{name}-{version}/Cargo.toml"
    check = MemberCheck(f"{name}-{version}")
    manifest_bytes = None
    try:
        with open_tar(crate, unpacked_limit) as archive:
            for member in members(archive):
                check(member)
                if member.name == wanted:
                    manifest_bytes = manifest_bytes_of(archive, member)
    except TAR_ERRORS as exc:
        raise InvalidCrate(f"{NOT_A_TAR}: {exc}") from exc
    return parse_manifest(manifest_bytes, name, version)


def manifest_bytes_of(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes | None:
    """The content of the member that is `NAME-VERSION/Cargo.toml`, refused unless a regular file of sensible size."""
    if not member.isfile() or member.size > MANIFEST_LIMIT:
        raise InvalidCrate(f"{member.name} in the .crate file is not a regular file of sensible size")
    extracted = archive.extractfile(member)
    return extracted.read() if extracted else None


def parse_manifest(manifest_bytes: bytes | None, name: str, version: str) -> dict[str, object]:
    """The parsed `NAME-VERSION/Cargo.toml` (None: the archive had none), which must be for `name` `version`."""
    wanted = f"{name}-{version}/Cargo.toml"
    if manifest_bytes is None:
        raise InvalidCrate(f"the .crate file has no {wanted}")
    try:
        manifest = tomllib.loads(manifest_bytes.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidCrate(f"{wanted} in the .crate file is not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise InvalidCrate(f"{wanted} in the .crate file is nested too deeply") from exc
    package = package_table(manifest, f"{wanted} in the .crate file")
    if package.get("name") != name or package.get("version") != version:
        raise InvalidCrate(
            f"the .crate file's Cargo.toml says {package.get('name')!s} {package.get('version')!s}, "
            f"but the upload is for {name} {version}"
        )
    return manifest


def package_table(manifest: dict[str, object], where: str = "the packaged Cargo.toml") -> dict[str, object]:
    """The `[package]` table of a parsed Cargo.toml; InvalidCrate if it has none (`where` names the file)."""
    package = manifest.get("package")
    if not isinstance(package, dict):
        raise InvalidCrate(f"{where} has no [package] table")
    return package


def read_member(crate: bytes | memoryview, path: str, unpacked_limit: int, size_limit: int) -> bytes | None:
    """The content of the regular file `path` in a .crate (e.g. `foo-1.0.0/README.md`), if there and
    at most `size_limit` bytes."""
    try:
        with open_tar(crate, unpacked_limit) as archive:
            for member in members(archive):
                if member.name == path and member.isfile() and member.size <= size_limit:
                    extracted = archive.extractfile(member)
                    return extracted.read() if extracted else None
    except TAR_ERRORS as exc:
        raise InvalidCrate(f"{NOT_A_TAR}: {exc}") from exc
    return None


def crate_identity(crate: bytes | memoryview, unpacked_limit: int) -> tuple[str, str]:
    """The `(name, version)` of a .crate, from the top directory of its first tar entry."""
    try:
        with open_tar(crate, unpacked_limit) as archive:
            first = archive.next()
    except TAR_ERRORS as exc:
        raise InvalidCrate(f"the file is not a valid gzip-compressed tar archive: {exc}") from exc
    if first is None:
        raise InvalidCrate("the .crate file is empty")
    top = first.name.split("/", 1)[0]
    name, sep, version = split_name_version(top)
    if not sep:
        raise InvalidCrate(f"the .crate file's top directory `{top}` is not NAME-VERSION")
    return name, version


def split_name_version(top: str) -> tuple[str, str, str]:
    """(name, "-", version) of `NAME-VERSION` (or (top, "", "")), split at the first dash after which a valid
    version follows."""
    for i, char in enumerate(top):
        if char == "-" and is_valid_version(top[i + 1 :]):
            return top[:i], "-", top[i + 1 :]
    return top, "", ""
