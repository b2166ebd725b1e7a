"""Index entries (one JSON line per version), built from publish metadata or from a Cargo.toml.

The format is the one in the Cargo Book's "Registry Index" chapter.
"""

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import NotRequired, TypedDict, TypeGuard

from palletizer_lib.domain.errors import InvalidCrate
from palletizer_lib.domain.names import validate_dependency_name, validate_name
from palletizer_lib.domain.urls import CRATES_IO_INDEX
from palletizer_lib.domain.versions import parse_version

DEP_KINDS = ("normal", "dev", "build")
_CKSUM = re.compile(r"[0-9a-f]{64}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
PUBTIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_MANIFEST_DEP_TABLES = {
    "dependencies": "normal",
    "dev-dependencies": "dev",
    "dev_dependencies": "dev",
    "build-dependencies": "build",
    "build_dependencies": "build",
}

Features = dict[str, list[str]]


class Dependency(TypedDict):
    """A dependency of an index entry. Cargo reads one from `name` and `req` alone; an entry this registry
    makes has every key but `registry` and `package`, which it writes only when they are not null."""

    name: str
    req: str
    features: NotRequired[list[str]]
    optional: NotRequired[bool]
    default_features: NotRequired[bool]
    target: NotRequired[str | None]
    kind: NotRequired[str | None]
    registry: NotRequired[str | None]
    package: NotRequired[str | None]


class IndexEntry(TypedDict):
    """One line of an index file: a version of a crate. An entry this registry makes has `features`,
    `yanked` and `links`, `v: 2` with `features2`, `rust_version` and `pubtime` when they apply."""

    name: str
    vers: str
    deps: list[Dependency]
    cksum: str
    features: NotRequired[Features]
    features2: NotRequired[Features | None]
    yanked: NotRequired[bool]
    links: NotRequired[str | None]
    v: NotRequired[int | None]
    rust_version: NotRequired[str | None]
    pubtime: NotRequired[str | None]


def entry_from_metadata(metadata: dict[str, object], cksum: str) -> IndexEntry:
    """Convert cargo's publish metadata into the index entry for that version."""
    _check_text(metadata)
    deps = _list(metadata.get("deps", []), "deps")
    features = _features(metadata.get("features", {}))
    return make_entry(
        name=validate_name(metadata.get("name")),
        vers=_string(metadata.get("vers"), "vers"),
        deps=[_dep_from_metadata(d) for d in deps],
        cksum=cksum,
        features=features,
        links=_optional_string(metadata.get("links"), "links"),
        rust_version=_optional_string(metadata.get("rust_version"), "rust_version"),
    )


def _check_text(metadata: dict[str, object]) -> None:
    """Refuse metadata holding strings no UTF-8 file can store (JSON's unpaired `\\ud800` escapes):
    they would break the index line, or the crate's summary in every search answer."""
    try:
        json.dumps(metadata, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        text = exc.object[exc.start : exc.end]
        raise InvalidCrate(f"the publish metadata is not valid Unicode: {exc.reason} ({text!a})") from exc
    except RecursionError as exc:
        raise InvalidCrate("the publish metadata is nested too deeply") from exc


def entry_from_manifest(manifest: dict[str, object], cksum: str, own_index_urls: Iterable[str]) -> IndexEntry:
    """Build the index entry a publish would make, from a packaged (normalised) Cargo.toml."""
    package = _table(manifest.get("package", {}), "package")
    ours = {u.rstrip("/") for u in own_index_urls}
    deps = [
        _dep_from_manifest(dep_name, spec, kind, None, ours)
        for table, kind in _MANIFEST_DEP_TABLES.items()
        for dep_name, spec in _table(manifest.get(table, {}), table).items()
    ]
    for target, tables in _table(manifest.get("target", {}), "target").items():
        for table, kind in _MANIFEST_DEP_TABLES.items():
            for dep_name, spec in _table(_table(tables, f"target.{target}").get(table, {}), table).items():
                deps.append(_dep_from_manifest(dep_name, spec, kind, target, ours))
    rust_version = package.get("rust-version")
    return make_entry(
        name=validate_name(package.get("name")),
        vers=_string(package.get("version"), "version"),
        deps=deps,
        cksum=cksum,
        features=_features(manifest.get("features", {})),
        links=_optional_string(package.get("links"), "links"),
        rust_version=_optional_string(rust_version, "rust-version"),
    )


def make_entry(
    *,
    name: str,
    vers: str,
    deps: list[Dependency],
    cksum: str,
    features: Features,
    links: str | None,
    rust_version: str | None,
) -> IndexEntry:
    """Assemble an entry, moving `dep:`/`?/` features to `features2` (with `v: 2`)."""
    plain = {k: v for k, v in features.items() if not _needs_v2(v)}
    extended = {k: v for k, v in features.items() if _needs_v2(v)}
    entry: IndexEntry = {
        "name": name,
        "vers": vers,
        "deps": deps,
        "cksum": cksum,
        "features": plain,
        "yanked": False,
        "links": links,
    }
    if extended:
        entry["v"] = 2
        entry["features2"] = extended
    if rust_version is not None:
        entry["rust_version"] = rust_version
    return entry


def check_entry(raw: object) -> IndexEntry:
    """An index entry read from another registry, checked as a publish's would be (`InvalidCrate` saying
    what is wrong): a valid name and version, a SHA-256 checksum, well-formed dependencies and features,
    every other key of `IndexEntry` of its type, and no control character in any text cargo reads from it."""
    if not _is_index_entry(raw):
        raise InvalidCrate("`entry` must be a table/object")
    return raw


def _is_index_entry(value: object) -> TypeGuard[IndexEntry]:
    """Whether `value` is a JSON object; `InvalidCrate` if it is one but not a valid `IndexEntry`."""
    if not isinstance(value, dict):
        return False
    validate_name(value.get("name"))
    parse_version(value.get("vers"))
    if not isinstance(value.get("cksum"), str) or not _CKSUM.match(value["cksum"]):
        raise InvalidCrate("`cksum` must be a SHA-256 in hex")
    for dep in _list(value.get("deps"), "deps"):
        _check_dependency(dep)
    _features(value.get("features", {}))
    if value.get("features2") is not None:
        _features(value["features2"])
    _bool(value.get("yanked", False), "yanked")
    for key in ("links", "rust_version", "pubtime"):
        _plain(_optional_string(value.get(key), key), key)
    if value.get("v") is not None and (isinstance(value["v"], bool) or not isinstance(value["v"], int)):
        raise InvalidCrate("`v` must be a whole number")
    return True


def _check_dependency(raw: object) -> None:
    """Check a dependency of an entry read from another registry is a `Dependency` (`InvalidCrate` if not)."""
    dep = _table(raw, "deps[]")
    name = validate_dependency_name(dep.get("name"))
    if dep.get("package") is not None:
        validate_dependency_name(dep["package"])
    _kind(_optional_string(dep.get("kind"), f"kind of dependency `{name}`"), name)
    _strings(dep.get("features", []), f"features of dependency `{name}`")
    _bool(dep.get("optional", False), "optional")
    _bool(dep.get("default_features", True), "default_features")
    _plain(_string(dep.get("req"), f"req of dependency `{name}`"), f"req of dependency `{name}`")
    for key in ("target", "registry"):
        _plain(_optional_string(dep.get(key), key), f"{key} of dependency `{name}`")


def _plain(text: str | None, what: str) -> None:
    if text is not None and _CONTROL.search(text):
        raise InvalidCrate(f"`{what}` holds a control character")


def cargo_req(req: str) -> str:
    """A version requirement as cargo writes it at publish: bare versions get `^` (`0.1` -> `^0.1`)."""
    return ", ".join(_cargo_comparator(part.strip()) for part in req.split(","))


def _cargo_comparator(part: str) -> str:
    numbers = part.split("-", 1)[0].split("+", 1)[0].split(".")
    is_wildcard = any(n in ("*", "x", "X") for n in numbers)
    return f"^{part}" if part[:1].isdigit() and not is_wildcard else part


def pubtime(seconds: float) -> str:
    """An entry's `pubtime` for a version first published at `seconds` (UTC, whole seconds, as cargo reads it)."""
    return datetime.fromtimestamp(int(seconds), tz=UTC).strftime(PUBTIME_FORMAT)


def pubtime_seconds(entry: Mapping[str, object]) -> float | None:
    """When an entry (checked or not) says its version was first published (None if it does not say, or not
    readably)."""
    text = entry.get("pubtime")
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, PUBTIME_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def same_release(one: IndexEntry, other: IndexEntry) -> bool:
    """True if two entries describe the same release, whatever their `yanked` and `pubtime`."""
    ignored = ("yanked", "pubtime")
    return {k: v for k, v in one.items() if k not in ignored} == {k: v for k, v in other.items() if k not in ignored}


def dump_line(entry: IndexEntry) -> bytes:
    """One index line: compact JSON and a newline."""
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def parse_lines(data: bytes) -> list[IndexEntry]:
    """The entries of an index file this registry wrote, in file order (not checked: see `check_entry` for
    one from another registry)."""
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def dump_lines(entries: Iterable[IndexEntry]) -> bytes:
    """An index file's bytes for `entries`."""
    return b"".join(dump_line(e) for e in entries)


def _needs_v2(values: list[str]) -> bool:
    return any(v.startswith("dep:") or "?/" in v for v in values)


def _dep(
    name: str,
    req: str,
    features: list[str],
    optional: bool,
    default_features: bool,
    target: str | None,
    kind: str,
    registry: str | None,
    package: str | None,
) -> Dependency:
    dep: Dependency = {
        "name": name,
        "req": req,
        "features": features,
        "optional": optional,
        "default_features": default_features,
        "target": target,
        "kind": kind,
    }
    if registry is not None:
        dep["registry"] = registry
    if package is not None:
        dep["package"] = package
    return dep


def _dep_from_metadata(raw: object) -> Dependency:
    dep = _table(raw, "deps[]")
    real_name = validate_dependency_name(dep.get("name"))
    renamed = _optional_string(dep.get("explicit_name_in_toml"), "explicit_name_in_toml")
    return _dep(
        name=validate_dependency_name(renamed) if renamed else real_name,
        req=_string(dep.get("version_req"), f"version_req of dependency `{real_name}`"),
        features=_strings(dep.get("features", []), f"features of dependency `{real_name}`"),
        optional=_bool(dep.get("optional", False), "optional"),
        default_features=_bool(dep.get("default_features", True), "default_features"),
        target=_optional_string(dep.get("target"), "target"),
        kind=_kind(dep.get("kind"), real_name),
        registry=_optional_string(dep.get("registry"), "registry"),
        package=real_name if renamed else None,
    )


def _dep_from_manifest(key: str, raw: object, kind: str, target: str | None, ours: set[str]) -> Dependency:
    spec = _table({"version": raw} if isinstance(raw, str) else raw, f"dependency `{key}`")
    real_name = spec.get("package")
    registry_index = _optional_string(spec.get("registry-index"), "registry-index")
    if registry_index is None:
        registry = CRATES_IO_INDEX
    elif registry_index.rstrip("/") in ours:
        registry = None
    else:
        registry = registry_index
    default_features = spec.get("default-features", spec.get("default_features", True))
    return _dep(
        name=validate_dependency_name(key),
        req=cargo_req(_string(spec.get("version", "*"), f"version of dependency `{key}`")),
        features=_strings(spec.get("features", []), f"features of dependency `{key}`"),
        optional=_bool(spec.get("optional", False), "optional"),
        default_features=_bool(default_features, "default-features"),
        target=target,
        kind=kind,
        registry=registry,
        package=validate_dependency_name(real_name) if real_name is not None else None,
    )


def _kind(value: object, dependency: str) -> str:
    """A dependency's kind (`normal` if not given); InvalidCrate if not one of `DEP_KINDS`."""
    kind = value or "normal"
    if not isinstance(kind, str) or kind not in DEP_KINDS:
        raise InvalidCrate(f"dependency `{dependency}` has an unknown kind `{kind}`")
    return kind


def _features(raw: object) -> Features:
    table = _table(raw, "features")
    return {_string(k, "feature name"): _strings(v, f"feature `{k}`") for k, v in table.items()}


def _table(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise InvalidCrate(f"`{what}` must be a table/object")
    return value


def _list(value: object, what: str) -> list[object]:
    if not isinstance(value, list):
        raise InvalidCrate(f"`{what}` must be a list")
    return value


def _string(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidCrate(f"`{what}` must be a string")
    return value


def _optional_string(value: object, what: str) -> str | None:
    return None if value is None else _string(value, what)


def _strings(value: object, what: str) -> list[str]:
    return [_string(v, what) for v in _list(value, what)]


def _bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidCrate(f"`{what}` must be true or false")
    return value
