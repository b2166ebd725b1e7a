"""Real crates.io releases (Debian's `/usr/share/cargo/registry/`, e.g. from `librust-serde-json-dev`) are
still accepted: packed as tar does it (directory entries, executable bits, pax or GNU headers, long names,
`.cargo_vcs_info.json`, `Cargo.toml.orig`), added as they are and published with the metadata cargo
would send for their Cargo.toml. Skipped where no such sources are installed.
"""

import io
import tarfile
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.urls import CRATES_IO_INDEX
from palletizer_lib.settings.config import RegistryConfig
from tests.support.crate_sources import CORPUS, Release, releases
from tests.support.cratekit import dep, gzip_tar, metadata

SOURCES = releases()
LONG_NAME = "src/" + "a-very-long-directory-name-" * 4 + "/" + "and-a-long-file-name-" * 4 + ".rs"
DEP_TABLES = {"dependencies": "normal", "dev-dependencies": "dev", "build-dependencies": "build"}


def pack(release: Release, tar_format: int) -> bytes:
    """A .crate of `release`: every directory and file under `NAME-VERSION/` (from its Cargo.toml) with its
    mode, plus what `cargo package` adds."""
    source, top = release.source, release.top
    raw = io.BytesIO()
    with gzip_tar(raw, format=tar_format) as archive:
        archive.addfile(directory_member(top))
        for path in sorted(source.rglob("*")):
            name = f"{top}/{path.relative_to(source)}"
            if path.is_dir():
                archive.addfile(directory_member(name))
            elif path.is_file():
                info = tarfile.TarInfo(name)
                info.size, info.mode = path.stat().st_size, path.stat().st_mode & 0o777
                with path.open("rb") as data:
                    archive.addfile(info, data)
        extra = {
            "Cargo.toml.orig": (source / "Cargo.toml").read_bytes(),
            LONG_NAME: b"",
            ".cargo_vcs_info.json": b'{"git": {"sha1": "0000"}, "path_in_vcs": ""}\n',
        }
        for name, data in extra.items():
            if not (source / name).exists():
                info = tarfile.TarInfo(f"{top}/{name}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def directory_member(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info


def cargo_metadata(manifest: dict) -> dict:
    """The publish metadata cargo sends for a crate whose normalised Cargo.toml is `manifest`."""
    package = manifest["package"]
    deps = []
    scopes = [(None, manifest)] + list(manifest.get("target", {}).items())
    for target, tables in scopes:
        for table, kind in DEP_TABLES.items():
            for key, spec in tables.get(table, {}).items():
                spec = {"version": spec} if isinstance(spec, str) else spec
                deps.append(
                    dep(
                        spec.get("package", key),
                        semver_display(spec.get("version", "*")),
                        features=spec.get("features", []),
                        optional=spec.get("optional", False),
                        default_features=spec.get("default-features", spec.get("default_features", True)),
                        target=target,
                        kind=kind,
                        registry=spec.get("registry-index", CRATES_IO_INDEX),
                        explicit_name_in_toml=key if "package" in spec else None,
                    )
                )
    return metadata(
        package["name"],
        package["version"],
        deps=deps,
        features=manifest.get("features", {}),
        links=package.get("links"),
        rust_version=package.get("rust-version"),
    )


def semver_display(req: str) -> str:
    """A requirement as the semver crate prints it: comparators without spaces, bare versions with `^`."""
    parts = ["".join(part.split()) for part in req.split(",")]
    return ", ".join(f"^{p}" if p[:1].isdigit() and "*" not in p else p for p in parts)


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> tuple[Registry, Registry]:
    return two_registries(tmp_path_factory.mktemp("real"))


def two_registries(root: Path) -> tuple[Registry, Registry]:
    """Two new registries under `root`: one to add crates to, one to publish them to."""
    return tuple(
        Registry.create(root / name, RegistryConfig(public_url=f"http://{name}.test"))
        for name in ("added", "published")
    )


@pytest.mark.skipif(not SOURCES, reason=f"no crate sources in {CORPUS}")
@pytest.mark.parametrize("release", SOURCES, ids=[release.top for release in SOURCES])
def test_a_real_crate_is_added_and_published(registries: tuple[Registry, Registry], release: Release) -> None:
    add_and_publish(*registries, release)


def test_a_release_is_named_by_its_manifest_not_its_folder(tmp_path: Path) -> None:
    source = tmp_path / "sources" / "md-0.10.1"
    (source / "src").mkdir(parents=True)
    (source / "Cargo.toml").write_text('[package]\nname = "md-5"\nversion = "0.10.1"\nedition = "2018"\n')
    (source / "src" / "lib.rs").write_text("pub fn md5() {}\n")
    [release] = releases(tmp_path / "sources")
    assert (release.name, release.version, release.top) == ("md-5", "0.10.1", "md-5-0.10.1")
    add_and_publish(*two_registries(tmp_path), release)


def add_and_publish(added: Registry, published: Registry, release: Release) -> None:
    """`release` added to one registry and published to the other, each as cargo would send it."""
    entry = added.add(pack(release, tarfile.PAX_FORMAT))
    assert (entry["name"], entry["vers"]) == (release.name, release.version)
    meta = cargo_metadata(release.manifest)
    gnu = pack(release, tarfile.GNU_FORMAT)
    deps = [(d["name"], d.get("package"), d["kind"], d["target"]) for d in published.publish(meta, gnu)["deps"]]
    assert deps == [(d["name"], d.get("package"), d["kind"], d["target"]) for d in entry["deps"]]
    assert published.crates.exists(f"{release.name}/{release.top}.crate")
