"""Index entries (one JSON line per version), built from publish metadata or from a Cargo.toml.

The format is the one in the Cargo Book's "Registry Index" chapter.
"""

import json
import re
from collections.abc import Iterable
from datetime import datetime, timezone

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


def entry_from_metadata(metadata: dict, cksum: str) -> dict:
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


def _check_text(metadata: dict) -> None:
    """Refuse metadata holding strings no UTF-8 file can store (JSON's unpaired `\\ud800` escapes):
    they would break the index line, or the crate's summary in every search answer."""
    try:
        json.dumps(metadata, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        text = exc.object[exc.start:exc.end]
        raise InvalidCrate(f"the publish metadata is not valid Unicode: {exc.reason} ({text!a})") from exc
    except RecursionError as exc:
        raise InvalidCrate("the publish metadata is nested too deeply") from exc


def entry_from_manifest(manifest: dict, cksum: str, own_index_urls: Iterable[str]) -> dict:
    """Build the index entry a publish would make, from a packaged (normalised) Cargo.toml."""
    package = manifest.get("package", {})
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


def make_entry(*, name: str, vers: str, deps: list[dict], cksum: str, features: dict,
               links: str | None, rust_version: str | None) -> dict:
    """Assemble an entry, moving `dep:`/`?/` features to `features2` (with `v: 2`)."""
    plain = {k: v for k, v in features.items() if not _needs_v2(v)}
    extended = {k: v for k, v in features.items() if _needs_v2(v)}
    entry = {
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


def check_entry(raw: object) -> dict:
    """An index entry read from another registry, checked as a publish's would be (`InvalidCrate` saying
    what is wrong): a valid name and version, a SHA-256 checksum, well-formed dependencies and features,
    and no control character in any text cargo reads from it."""
    entry = _table(raw, "entry")
    validate_name(entry.get("name"))
    parse_version(entry.get("vers"))
    if not isinstance(entry.get("cksum"), str) or not _CKSUM.match(entry["cksum"]):
        raise InvalidCrate("`cksum` must be a SHA-256 in hex")
    for dep in _list(entry.get("deps", []), "deps"):
        dep = _table(dep, "deps[]")
        name = validate_dependency_name(dep.get("name"))
        if dep.get("package") is not None:
            validate_dependency_name(dep["package"])
        if (dep.get("kind") or "normal") not in DEP_KINDS:
            raise InvalidCrate(f"dependency `{name}` has an unknown kind")
        _strings(dep.get("features", []), f"features of dependency `{name}`")
        _bool(dep.get("optional", False), "optional")
        _bool(dep.get("default_features", True), "default_features")
        _plain(_string(dep.get("req"), f"req of dependency `{name}`"), f"req of dependency `{name}`")
        for key in ("target", "registry"):
            _plain(_optional_string(dep.get(key), key), f"{key} of dependency `{name}`")
    _features(entry.get("features", {}))
    _features(entry.get("features2") or {})
    _bool(entry.get("yanked", False), "yanked")
    for key in ("links", "rust_version"):
        _plain(_optional_string(entry.get(key), key), key)
    return entry


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
    return datetime.fromtimestamp(int(seconds), tz=timezone.utc).strftime(PUBTIME_FORMAT)


def pubtime_seconds(entry: dict) -> float | None:
    """When an entry says its version was first published (None if it does not say, or not readably)."""
    try:
        return datetime.strptime(entry["pubtime"], PUBTIME_FORMAT).replace(tzinfo=timezone.utc).timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def same_release(one: dict, other: dict) -> bool:
    """True if two entries describe the same release, whatever their `yanked` and `pubtime`."""
    ignored = ("yanked", "pubtime")
    return ({k: v for k, v in one.items() if k not in ignored}
            == {k: v for k, v in other.items() if k not in ignored})


def dump_line(entry: dict) -> bytes:
    """One index line: compact JSON and a newline."""
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def parse_lines(data: bytes) -> list[dict]:
    """The entries of an index file, in file order."""
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def dump_lines(entries: Iterable[dict]) -> bytes:
    """An index file's bytes for `entries`."""
    return b"".join(dump_line(e) for e in entries)


def _needs_v2(values: list[str]) -> bool:
    return any(v.startswith("dep:") or "?/" in v for v in values)


def _dep(name: str, req: str, features: list[str], optional: bool, default_features: bool,
         target: str | None, kind: str, registry: str | None, package: str | None) -> dict:
    dep = {
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


def _dep_from_metadata(raw: object) -> dict:
    dep = _table(raw, "deps[]")
    real_name = validate_dependency_name(dep.get("name"))
    renamed = _optional_string(dep.get("explicit_name_in_toml"), "explicit_name_in_toml")
    kind = dep.get("kind", "normal") or "normal"
    if kind not in DEP_KINDS:
        raise InvalidCrate(f"dependency `{real_name}` has an unknown kind `{kind}`")
    return _dep(
        name=validate_dependency_name(renamed) if renamed else real_name,
        req=_string(dep.get("version_req"), f"version_req of dependency `{real_name}`"),
        features=_strings(dep.get("features", []), f"features of dependency `{real_name}`"),
        optional=_bool(dep.get("optional", False), "optional"),
        default_features=_bool(dep.get("default_features", True), "default_features"),
        target=_optional_string(dep.get("target"), "target"),
        kind=kind,
        registry=_optional_string(dep.get("registry"), "registry"),
        package=real_name if renamed else None,
    )


def _dep_from_manifest(key: str, spec: object, kind: str, target: str | None, ours: set[str]) -> dict:
    if isinstance(spec, str):
        spec = {"version": spec}
    spec = _table(spec, f"dependency `{key}`")
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


def _features(raw: object) -> dict:
    table = _table(raw, "features")
    return {_string(k, "feature name"): _strings(v, f"feature `{k}`") for k, v in table.items()}


def _table(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidCrate(f"`{what}` must be a table/object")
    return value


def _list(value: object, what: str) -> list:
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
