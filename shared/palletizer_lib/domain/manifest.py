"""The packaged Cargo.toml of a publish, checked against the publish metadata cargo sent with it.

The index entry is built from the metadata, but cargo builds a downloaded crate from its packaged
Cargo.toml: the two must say the same, or a dependency (say, from a registry this one does not allow)
could hide in the manifest alone. Both are turned into index entries (`index_entry`, the one place that
reads a manifest's dependencies) and those are compared: dependencies (name, package, requirement,
kind, target, optional, default features, features, registry), the features table and `links`, and
`rust-version` when the metadata gives one.
"""

import json
import re
from collections import Counter
from collections.abc import Iterable

from palletizer_lib.domain.errors import InvalidCrate
from palletizer_lib.domain.index_entry import Dependency, Features, IndexEntry, entry_from_manifest
from palletizer_lib.domain.urls import CRATES_IO_ALIASES, CRATES_IO_INDEX

MAX_REPORTED = 5
_WILDCARD = re.compile(r"(^|[.=<>~^])[xX](?=$|\.)")

DepKey = tuple[str, str | None, str | None]
# package, requirement, features, optional, default features, registry (as `_FIELDS` names them)
Comparable = tuple[str | None, str, tuple[str, ...], bool, bool, str | None]


def check_manifest_matches(manifest: dict[str, object], entry: IndexEntry, own_index_urls: Iterable[str]) -> None:
    """Raise InvalidCrate saying what differs if the packaged `manifest` does not describe the index
    `entry` built from the publish metadata (`own_index_urls`: this registry's, as in a manifest's
    `registry-index`)."""
    own = [u.rstrip("/") for u in own_index_urls]
    packaged = entry_from_manifest(manifest, entry["cksum"], own)
    differences = _dep_differences(packaged["deps"], entry["deps"], own)
    differences += _feature_differences(_all_features(packaged), _all_features(entry))
    if packaged["links"] != entry["links"]:
        differences.append(
            f"`links` is {_shown(packaged['links'])} in Cargo.toml but {_shown(entry['links'])} in the metadata"
        )
    if entry.get("rust_version") is not None and packaged.get("rust_version") != entry["rust_version"]:
        differences.append(
            f"`rust-version` is {_shown(packaged.get('rust_version'))} in Cargo.toml but "
            f"{_shown(entry['rust_version'])} in the metadata"
        )
    if differences:
        more = len(differences) - MAX_REPORTED
        text = "; ".join(differences[:MAX_REPORTED]) + (f"; and {more} more" if more > 0 else "")
        raise InvalidCrate(f"the packaged Cargo.toml does not match the publish metadata: {text}")


def normalise_req(req: str) -> str:
    """A version requirement spelled as cargo sends it (`0.1` -> `^0.1`, `>= 1` -> `>=1`, `1.x` -> `1.*`)."""
    parts = []
    for part in req.split(","):
        text = _WILDCARD.sub(r"\1*", "".join(part.split()))
        parts.append(f"^{text}" if text[:1].isdigit() and "*" not in text else text)
    return ", ".join(parts)


def _registry(dep: Dependency, own: list[str]) -> str | None:
    """Where a dependency of an entry comes from: None for this registry, else its index URL."""
    url = dep.get("registry")
    if url is None or url.rstrip("/") in own:
        return None
    if url in CRATES_IO_ALIASES or url.rstrip("/") in {u.rstrip("/") for u in CRATES_IO_ALIASES}:
        return CRATES_IO_INDEX
    return url.rstrip("/")


def _comparable(dep: Dependency, own: list[str]) -> Comparable:
    return (
        dep.get("package"),
        normalise_req(dep["req"]),
        tuple(sorted(dep["features"])),
        dep["optional"],
        dep["default_features"],
        _registry(dep, own),
    )


_FIELDS = ("package", "version requirement", "features", "optional", "default-features", "registry")
_KIND_PREFIXES: dict[str | None, str] = {"normal": "", "dev": "dev-", "build": "build-"}


def _key(dep: Dependency) -> DepKey:
    return dep["name"], dep["kind"], dep["target"]


def _described(key: DepKey, dep: Dependency, own: list[str]) -> str:
    name, kind, target = key
    prefix = _KIND_PREFIXES.get(kind, f"{kind} ")
    text = f"{prefix}dependency `{name}`"
    if dep.get("package"):
        text += f" (package `{dep['package']}`)"
    if target is not None:
        text += f" for target `{target}`"
    registry = _registry(dep, own)
    if registry == CRATES_IO_INDEX:
        text += " (from crates.io)"
    elif registry is not None:
        text += f" (from registry {registry})"
    return text


def _dep_differences(packaged: list[Dependency], metadata: list[Dependency], own: list[str]) -> list[str]:
    by_key: dict[DepKey, tuple[list[Dependency], list[Dependency]]] = {}
    for side, deps in enumerate((packaged, metadata)):
        for dep in deps:
            by_key.setdefault(_key(dep), ([], []))[side].append(dep)
    differences = []
    for key, (in_toml, in_metadata) in by_key.items():
        if Counter(_comparable(d, own) for d in in_toml) == Counter(_comparable(d, own) for d in in_metadata):
            continue
        if len(in_toml) == 1 and len(in_metadata) == 1:
            toml_values, meta_values = _comparable(in_toml[0], own), _comparable(in_metadata[0], own)
            changed = [
                f"{field} {_value(field, a)} in Cargo.toml but {_value(field, b)} in the metadata"
                for field, a, b in zip(_FIELDS, toml_values, meta_values, strict=True)
                if a != b
            ]
            differences.append(f"{_described(key, in_metadata[0], own)} has " + ", ".join(changed))
        elif not in_metadata:
            differences.append(f"{_described(key, in_toml[0], own)} is in Cargo.toml but not in the metadata")
        elif not in_toml:
            differences.append(f"{_described(key, in_metadata[0], own)} is in the metadata but not in Cargo.toml")
        else:
            differences.append(
                f"{_described(key, in_metadata[0], own)} is given {len(in_metadata)} times "
                f"in the metadata and {len(in_toml)} in Cargo.toml"
            )
    return differences


def _value(field: str, value: object) -> str:
    if field == "registry":
        return "crates.io" if value == CRATES_IO_INDEX else "this registry" if value is None else f"{value}"
    return _shown(value)


def _all_features(entry: IndexEntry) -> Features:
    return {**entry["features"], **(entry.get("features2") or {})}


def _feature_differences(packaged: Features, metadata: Features) -> list[str]:
    differences = []
    for name in sorted(packaged.keys() | metadata.keys()):
        if name not in metadata:
            differences.append(f"feature `{name}` is in Cargo.toml but not in the metadata")
        elif name not in packaged:
            differences.append(f"feature `{name}` is in the metadata but not in Cargo.toml")
        elif sorted(packaged[name]) != sorted(metadata[name]):
            differences.append(
                f"feature `{name}` is {_shown(packaged[name])} in Cargo.toml but "
                f"{_shown(metadata[name])} in the metadata"
            )
    return differences


def _shown(value: object) -> str:
    """A value for a one-line message, as TOML would spell it, cut short if long."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    shown = list(value) if isinstance(value, Iterable) and not isinstance(value, str) else value
    text = f"`{value}`" if isinstance(value, str) else f"`{json.dumps(shown, ensure_ascii=False, default=str)}`"
    return text if len(text) <= 120 else text[:120] + "..."
