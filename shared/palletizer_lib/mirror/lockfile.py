"""`mirror fetch`: the upstream's packages of a Cargo.lock, brought into the mirror's cache."""

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from palletizer_lib.domain.errors import BadRequest, PalletizerError
from palletizer_lib.domain.urls import CRATES_IO_ALIASES
from palletizer_lib.mirror.cache import Mirror
from palletizer_lib.mirror.cache_files import cached_cksum


@dataclass(frozen=True)
class LockedCrate:
    """A package of a Cargo.lock that comes from the upstream."""

    name: str
    version: str
    checksum: str | None


def upstream_packages(lockfile: Path, upstream_url: str) -> list[LockedCrate]:
    """The packages of `lockfile` whose source is crates.io or `upstream_url` (`BadRequest` if it is not
    a Cargo.lock)."""
    try:
        lock = tomllib.loads(lockfile.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadRequest(f"{lockfile} is not a readable Cargo.lock: {exc}") from exc
    packages = lock.get("package", [])
    if not isinstance(packages, list):
        raise BadRequest(f"{lockfile} is not a Cargo.lock: `package` is not a list")
    bare = upstream_url.removeprefix("sparse+").rstrip("/")
    sources = {f"registry+{url}" for url in CRATES_IO_ALIASES if not url.startswith("sparse+")}
    sources |= {"sparse+https://index.crates.io/", f"sparse+{bare}/", f"sparse+{bare}", f"registry+{bare}"}
    found = []
    for package in packages:
        if (
            isinstance(package, dict)
            and package.get("source") in sources
            and isinstance(package.get("name"), str)
            and isinstance(package.get("version"), str)
        ):
            checksum = package.get("checksum")
            found.append(
                LockedCrate(package["name"], package["version"], checksum if isinstance(checksum, str) else None)
            )
    return found


def fetch_locked(mirror: Mirror, crates: list[LockedCrate]) -> Iterator[tuple[LockedCrate, str, str | None]]:
    """Bring each crate into the cache: per crate, `cached`, `fetched`, `skipped` (published here) or
    `failed`, with the reason for the last two."""
    for crate in crates:
        if mirror.is_local(crate.name):
            yield crate, "skipped", "a crate of that name is published here"
            continue
        try:
            was_cached = mirror.layout.mirror_crate_file(crate.name, crate.version).is_file()
            mirror.crate_file(crate.name, crate.version)
            cksum = cached_cksum(mirror.layout, crate.name, crate.version)
            if crate.checksum is not None and cksum != crate.checksum:
                yield crate, "failed", "its checksum in Cargo.lock differs from the upstream index entry's"
                continue
        except PalletizerError as exc:
            yield crate, "failed", exc.detail
            continue
        yield crate, "cached" if was_cached else "fetched", None
