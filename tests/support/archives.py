"""Hand-made .tar.gz archives for the cases `tests.support.cratekit.make_crate` cannot build."""

import gzip
import io
import tarfile

from tests.support.cratekit import gzip_tar


def tar_gz(
    files: dict[str, bytes],
    *,
    directories: tuple[str, ...] = (),
    symlinks: dict[str, str] | None = None,
    hardlinks: dict[str, str] | None = None,
) -> bytes:
    """A gzip tar holding `directories`, then `files` (path -> content), then `symlinks` and
    `hardlinks` (path -> target)."""
    raw = io.BytesIO()
    with gzip_tar(raw) as archive:
        for path in directories:
            info = tarfile.TarInfo(path)
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for kind, links in ((tarfile.SYMTYPE, symlinks), (tarfile.LNKTYPE, hardlinks)):
            for path, target in (links or {}).items():
                info = tarfile.TarInfo(path)
                info.type = kind
                info.linkname = target
                archive.addfile(info)
    return raw.getvalue()


def special_member(path: str, kind: bytes) -> tarfile.TarInfo:
    """A member of tar type `kind` with no data: a character or block device (1, 3), or a FIFO."""
    info = tarfile.TarInfo(path)
    info.type = kind
    info.devmajor, info.devminor = (1, 3) if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE) else (0, 0)
    return info


def manifest(name: str, version: str, extra: str = "") -> bytes:
    """A minimal Cargo.toml."""
    return f'[package]\nname = "{name}"\nversion = "{version}"\n{extra}'.encode()


def gzip_bomb(name: str, version: str, unpacked: int) -> bytes:
    """A valid .tar.gz of a few hundred KB: `unpacked` bytes of zeros, then a good Cargo.toml."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as out,
        tarfile.open(fileobj=out, mode="w|") as archive,
    ):
        info = tarfile.TarInfo(f"{name}-{version}/zeros")
        info.size = unpacked
        archive.addfile(info, _Zeros(unpacked))
        data = manifest(name, version)
        info = tarfile.TarInfo(f"{name}-{version}/Cargo.toml")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


class _Zeros(io.RawIOBase):
    """`size` zero bytes, read without ever being held in memory at once."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        n = min(len(buffer), self._left)
        buffer[:n] = bytes(n)
        self._left -= n
        return n
