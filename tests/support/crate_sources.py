"""Debian's sources of real crates.io releases: the `librust-*-dev` packages' folders under
`/usr/share/cargo/registry/` (or `$PALLETIZER_CORPUS_DIR`). A folder's name is Debian's, not the crate's
(`md-0.10.1` holds `md-5` 0.10.1): a release's name and version come from its Cargo.toml."""

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(os.environ.get("PALLETIZER_CORPUS_DIR", "/usr/share/cargo/registry"))


@dataclass(frozen=True)
class Release:
    """One release's sources: its folder and its parsed Cargo.toml."""

    source: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.manifest["package"]["name"]

    @property
    def version(self) -> str:
        return self.manifest["package"]["version"]

    @property
    def top(self) -> str:
        """`NAME-VERSION`, the top folder of its `.crate` and the stem of the file's name."""
        return f"{self.name}-{self.version}"


def releases(root: Path = CORPUS) -> list[Release]:
    """Every folder of `root` with a Cargo.toml, as releases ordered by name and version."""
    if not root.is_dir():
        return []
    found = [
        Release(path, tomllib.loads((path / "Cargo.toml").read_text()))
        for path in root.iterdir()
        if (path / "Cargo.toml").is_file()
    ]
    return sorted(found, key=lambda release: (release.name, release.version, release.source.name))
