"""Build .crate files and publish metadata in memory, as `cargo package` / `cargo publish` would."""

import contextlib
import gzip
import io
import json
import tarfile
from collections.abc import Iterator

from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.domain.urls import CRATES_IO_ALIASES

TEST_INDEX = "sparse+http://registry.test/index/"


@contextlib.contextmanager
def gzip_tar(raw: io.BytesIO, **options: object) -> Iterator[tarfile.TarFile]:
    """A tar archive written gzip-compressed into `raw`, byte-for-byte the same on every run (gzip mtime 0)."""
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", **options) as archive,
    ):
        yield archive


def make_crate(name: str, version: str, manifest_extra: str = "", files: dict[str, bytes] | None = None) -> bytes:
    """A gzip tar with `NAME-VERSION/Cargo.toml` (plus `files`, paths relative to that folder)."""
    manifest = f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n{manifest_extra}'
    return pack(name, version, manifest, files)


def pack(name: str, version: str, manifest: str, files: dict[str, bytes] | None = None) -> bytes:
    """A gzip tar of `NAME-VERSION/` holding `manifest` as Cargo.toml, `src/lib.rs` and `files`."""
    contents = {"Cargo.toml": manifest.encode(), "src/lib.rs": b"", **(files or {})}
    raw = io.BytesIO()
    with gzip_tar(raw) as archive:
        for path, data in contents.items():
            info = tarfile.TarInfo(f"{name}-{version}/{path}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def manifest_for(meta: dict, manifest_extra: str = "", index_url: str = TEST_INDEX) -> str:
    """The normalised Cargo.toml `cargo package` writes for a crate cargo would publish with `meta`:
    its dependencies (with `registry-index`: `index_url` for this registry's), features, `links` and
    `rust-version`; `manifest_extra` goes at the end of `[package]`."""
    lines = ["[package]", f"name = {_toml(meta['name'])}", f"version = {_toml(meta['vers'])}", 'edition = "2021"']
    if meta.get("links") is not None:
        lines.append(f"links = {_toml(meta['links'])}")
    if meta.get("rust_version") is not None:
        lines.append(f"rust-version = {_toml(meta['rust_version'])}")
    text = "\n".join(lines) + "\n" + manifest_extra
    if meta.get("features"):
        text += "\n[features]\n" + "".join(f"{_toml(k)} = {_toml(v)}\n" for k, v in meta["features"].items())
    for dependency in meta.get("deps", []):
        text += "\n" + _dependency_table(dependency, index_url)
    return text


def _dependency_table(dependency: dict, index_url: str) -> str:
    key = dependency.get("explicit_name_in_toml") or dependency["name"]
    kind = {"normal": "dependencies", "dev": "dev-dependencies", "build": "build-dependencies"}[
        dependency.get("kind") or "normal"
    ]
    table = f"{kind}.{_toml(key)}"
    if dependency.get("target") is not None:
        table = f"target.{_toml(dependency['target'])}.{table}"
    registry = dependency.get("registry")
    lines = [f"[{table}]", f"version = {_toml(dependency['version_req'])}"]
    if registry not in CRATES_IO_ALIASES:
        lines.append(f"registry-index = {_toml(registry or index_url)}")
    if dependency.get("features"):
        lines.append(f"features = {_toml(dependency['features'])}")
    if dependency.get("optional"):
        lines.append("optional = true")
    if dependency.get("default_features") is False:
        lines.append("default-features = false")
    if dependency.get("explicit_name_in_toml"):
        lines.append(f"package = {_toml(dependency['name'])}")
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    """A TOML string or array of strings (JSON's escapes are TOML's)."""
    return json.dumps(value)


def crate_for(
    meta: dict, manifest_extra: str = "", files: dict[str, bytes] | None = None, index_url: str = TEST_INDEX
) -> bytes:
    """The .crate `cargo package` would make for publish metadata `meta` (see `manifest_for`)."""
    return pack(meta["name"], meta["vers"], manifest_for(meta, manifest_extra, index_url), files)


def metadata(name: str, version: str, **fields: object) -> dict:
    """Publish metadata with cargo's fields; `fields` override the defaults."""
    base: dict = {
        "name": name,
        "vers": version,
        "deps": [],
        "features": {},
        "authors": [],
        "description": f"the {name} crate",
        "documentation": None,
        "homepage": None,
        "readme": None,
        "readme_file": None,
        "keywords": [],
        "categories": [],
        "license": "MIT",
        "license_file": None,
        "repository": None,
        "badges": {},
        "links": None,
        "rust_version": None,
    }
    base.update(fields)
    return base


def dep(name: str, req: str = "^0.1", **fields: object) -> dict:
    """One dependency of publish metadata, as cargo sends it."""
    base: dict = {
        "name": name,
        "version_req": req,
        "features": [],
        "optional": False,
        "default_features": True,
        "target": None,
        "kind": "normal",
        "registry": None,
        "explicit_name_in_toml": None,
    }
    base.update(fields)
    return base


def publish_body(
    name: str, version: str, manifest_extra: str = "", index_url: str = TEST_INDEX, **fields: object
) -> bytes:
    """A complete publish request body for a fresh crate, its packaged Cargo.toml agreeing with its metadata
    (`index_url`: the registry's own index, for dependencies on its crates)."""
    meta = metadata(name, version, **fields)
    return encode_publish_body(meta, crate_for(meta, manifest_extra, index_url=index_url))
