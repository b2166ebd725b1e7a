"""Hand-made .tar.gz archives for the cases `tests.cratekit.make_crate` cannot build."""

import io
import tarfile


def tar_gz(files: dict[str, bytes], *, directories: tuple[str, ...] = (),
           symlinks: dict[str, str] | None = None) -> bytes:
    """A gzip tar holding `directories`, then `files` (path -> content), then `symlinks` (path -> target)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        for path in directories:
            info = tarfile.TarInfo(path)
            info.type = tarfile.DIRTYPE
            archive.addfile(info)
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for path, target in (symlinks or {}).items():
            info = tarfile.TarInfo(path)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    return raw.getvalue()


def manifest(name: str, version: str, extra: str = "") -> bytes:
    """A minimal Cargo.toml."""
    return f'[package]\nname = "{name}"\nversion = "{version}"\n{extra}'.encode()
