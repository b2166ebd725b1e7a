"""Build .crate files and publish metadata in memory, as `cargo package` / `cargo publish` would."""

import contextlib
import gzip
import io
import tarfile
from collections.abc import Iterator

from palletizer_lib.publish_body import encode_publish_body


@contextlib.contextmanager
def gzip_tar(raw: io.BytesIO, **options: object) -> Iterator[tarfile.TarFile]:
    """A tar archive written gzip-compressed into `raw`, byte-for-byte the same on every run (gzip mtime 0)."""
    with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as compressed:
        with tarfile.open(fileobj=compressed, mode="w", **options) as archive:
            yield archive


def make_crate(name: str, version: str, manifest_extra: str = "", files: dict[str, bytes] | None = None) -> bytes:
    """A gzip tar with `NAME-VERSION/Cargo.toml` (plus `files`, paths relative to that folder)."""
    manifest = f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n{manifest_extra}'
    contents = {"Cargo.toml": manifest.encode(), "src/lib.rs": b"", **(files or {})}
    raw = io.BytesIO()
    with gzip_tar(raw) as archive:
        for path, data in contents.items():
            info = tarfile.TarInfo(f"{name}-{version}/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def metadata(name: str, version: str, **fields: object) -> dict:
    """Publish metadata with cargo's fields; `fields` override the defaults."""
    base: dict = {
        "name": name, "vers": version, "deps": [], "features": {}, "authors": [],
        "description": f"the {name} crate", "documentation": None, "homepage": None, "readme": None,
        "readme_file": None, "keywords": [], "categories": [], "license": "MIT", "license_file": None,
        "repository": None, "badges": {}, "links": None, "rust_version": None,
    }
    base.update(fields)
    return base


def dep(name: str, req: str = "^0.1", **fields: object) -> dict:
    """One dependency of publish metadata, as cargo sends it."""
    base: dict = {"name": name, "version_req": req, "features": [], "optional": False,
                  "default_features": True, "target": None, "kind": "normal", "registry": None,
                  "explicit_name_in_toml": None}
    base.update(fields)
    return base


def publish_body(name: str, version: str, manifest_extra: str = "", **fields: object) -> bytes:
    """A complete publish request body for a fresh crate."""
    return encode_publish_body(metadata(name, version, **fields), make_crate(name, version, manifest_extra))
