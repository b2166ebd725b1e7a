"""crates.io's read endpoints (`/api/v1/crates/NAME`, its versions, one version, its dependencies, the
crate's reverse dependencies, downloads, owners and authors) and search results, in crates.io's response
shapes, from the index and the catalog.

The registry counts downloads but keeps no per-day history: crates.io's `version_downloads` lists are empty and
`meta.total_downloads` carries the total counted (not a crates.io field).

What has no meaning here is null (`recent_downloads`, `yank_message`, `lib_links`, `has_lib`, `bin_names` of a
version published before they were recorded, `edition`, `homepage`... when not given) or empty (`badges`,
`audit_actions`). Ids are not database ids: a
version's `id` is a stable number made from its crate's name and its version, and a crate's `id` its name,
as on crates.io.
"""

import zlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from palletizer_lib.core.registry import Registry
from palletizer_lib.core.search import CrateSummary
from palletizer_lib.domain.errors import CrateNotFound, NotFound
from palletizer_lib.domain.index_entry import Dependency, IndexEntry
from palletizer_lib.domain.names import normalise
from palletizer_lib.domain.versions import find_version, max_version, parse_version
from palletizer_lib.stores.catalog import ListedVersions, VersionInfo
from palletizer_lib.stores.protocols import CatalogStore
from palletizer_lib.views.version_facts import all_features, version_facts

API = "/api/v1/crates"


def version_id(name: str, vers: str) -> int:
    """The `id` of a version: the same for every spelling of the crate's name, on every call."""
    return zlib.crc32(f"{normalise(name)} {vers}".encode())


def crate_document(registry: Registry, catalog: CatalogStore, name: str) -> dict[str, Any]:
    """`GET /api/v1/crates/NAME`: the crate, its versions (newest first), keywords and categories."""
    canonical, entries, infos = _crate(registry, catalog, name)
    versions = [_version(registry, canonical, entry, infos.get(entry["vers"])) for entry in _newest_first(entries)]
    newest = max(entries, key=lambda e: parse_version(e["vers"]))
    shown = max_version(entries)
    metadata = _metadata(infos, shown)
    releases = [e for e in entries if not e.get("yanked") and not parse_version(e["vers"]).is_prerelease]
    stable = max(releases, key=lambda e: parse_version(e["vers"]))["vers"] if releases else None
    times = [t for t in (version_facts(e, infos.get(e["vers"])).published for e in entries) if t is not None]
    keywords = _strings(metadata.get("keywords"))
    categories = _strings(metadata.get("categories"))
    crate = {
        "id": canonical,
        "name": canonical,
        "updated_at": _iso(max(times)) if times else None,
        "created_at": _iso(min(times)) if times else None,
        "versions": [v["id"] for v in versions],
        "keywords": keywords,
        "categories": categories,
        "badges": [],
        "downloads": sum(v["downloads"] for v in versions),
        "recent_downloads": None,
        "default_version": shown,
        "num_versions": len(versions),
        "yanked": all(e.get("yanked") for e in entries),
        "max_version": shown,
        "newest_version": newest["vers"],
        "max_stable_version": stable,
        "description": metadata.get("description"),
        "homepage": metadata.get("homepage"),
        "documentation": metadata.get("documentation"),
        "repository": metadata.get("repository"),
        "links": {
            "version_downloads": f"{API}/{canonical}/downloads",
            "versions": f"{API}/{canonical}/versions",
            "owners": f"{API}/{canonical}/owners",
            "owner_team": f"{API}/{canonical}/owner_team",
            "owner_user": f"{API}/{canonical}/owner_user",
            "reverse_dependencies": f"{API}/{canonical}/reverse_dependencies",
        },
        "exact_match": False,
    }
    return {
        "crate": crate,
        "versions": versions,
        "keywords": [{"id": k, "keyword": k, "crates_cnt": None, "created_at": None} for k in keywords],
        "categories": [
            {"id": c, "category": c, "slug": c, "description": None, "crates_cnt": None, "created_at": None}
            for c in categories
        ],
    }


def versions_document(registry: Registry, catalog: CatalogStore, name: str) -> dict[str, Any]:
    """`GET /api/v1/crates/NAME/versions`: every version, newest first."""
    canonical, entries, infos = _crate(registry, catalog, name)
    versions = [_version(registry, canonical, entry, infos.get(entry["vers"])) for entry in _newest_first(entries)]
    return {"versions": versions, "meta": {"total": len(versions), "next_page": None}}


def version_document(registry: Registry, catalog: CatalogStore, name: str, vers: str) -> dict[str, Any]:
    """`GET /api/v1/crates/NAME/VERSION`."""
    canonical, entry, info = _one(registry, catalog, name, vers)
    return {"version": _version(registry, canonical, entry, info)}


def dependencies_document(registry: Registry, catalog: CatalogStore, name: str, vers: str) -> dict[str, Any]:
    """`GET /api/v1/crates/NAME/VERSION/dependencies`: as crates.io lists them (the real crate name in
    `crate_id`, a renamed one's key unused)."""
    canonical, entry, _ = _one(registry, catalog, name, vers)
    vid = version_id(canonical, entry["vers"])
    return {"dependencies": [_dependency(dep, vid) for dep in entry["deps"]]}


def reverse_dependencies_document(
    registry: Registry, catalog: CatalogStore, name: str, page: int, per_page: int
) -> dict[str, Any]:
    """`GET /api/v1/crates/NAME/reverse_dependencies?page=&per_page=`, as crates.io answers it: the crates
    whose shown version depends on NAME, `per_page` of them from page `page`, the most downloaded first, then
    by name; each with its version and one of its dependencies on NAME. `meta.total` counts the crates."""
    total, dependents = registry.dependents(name, per_page, (page - 1) * per_page)
    dependencies, versions = [], []
    for dependent in dependents:
        entry = dependent.entry
        dependencies.append(_dependency(dependent.dependency, version_id(dependent.name, entry["vers"])))
        versions.append(_version(registry, dependent.name, entry, catalog.versions(dependent.name).get(entry["vers"])))
    return {"dependencies": dependencies, "versions": versions, "meta": {"total": total}}


def downloads_document(registry: Registry, catalog: CatalogStore, name: str) -> dict[str, Any]:
    """`GET /api/v1/crates/NAME/downloads`: no per-day history (empty lists); the crate's total in `meta`."""
    canonical, _, infos = _crate(registry, catalog, name)
    return {
        "version_downloads": [],
        "meta": {"extra_downloads": [], "total_downloads": sum(i.downloads for i in infos.values())},
    }


def version_downloads_document(registry: Registry, catalog: CatalogStore, name: str, vers: str) -> dict[str, Any]:
    """`GET /api/v1/crates/NAME/VERSION/downloads`: no per-day history; the version's total in `meta`."""
    _, _, info = _one(registry, catalog, name, vers)
    return {"version_downloads": [], "meta": {"total_downloads": info.downloads if info is not None else 0}}


def authors_document(registry: Registry, catalog: CatalogStore, name: str, vers: str) -> dict[str, Any]:
    """`GET /api/v1/crates/NAME/VERSION/authors`: the `authors` the version was published with, in
    `meta.names` (as crates.io answered before it stopped keeping them)."""
    _, _, info = _one(registry, catalog, name, vers)
    return {"meta": {"names": _strings(info.metadata.get("authors") if info is not None else None)}, "users": []}


def owner_users_document(owners: list[str]) -> dict[str, Any]:
    """`GET /api/v1/crates/NAME/owners` and `/owner_user`: the owners as crates.io's users (no URL or avatar
    here; the `id` is the owner's place in the sorted list)."""
    return {
        "users": [
            {"id": i, "login": user, "kind": "user", "name": user, "url": None, "avatar": None}
            for i, user in enumerate(owners, 1)
        ]
    }


def search_document(registry: Registry, catalog: CatalogStore, query: str, page: int, per_page: int) -> dict[str, Any]:
    """`GET /api/v1/crates?q=&page=&per_page=`: the crates matching `query`, `per_page` from page `page`, as
    crates.io lists them (`meta.next_page`/`prev_page` the query strings of the pages around). Read from the
    search table and the catalog in a fixed number of queries (no index file): `max_version` is the version
    search shows (the highest not yanked, releases first), `max_stable_version` that one if it is a release,
    `newest_version` the highest the catalog records."""
    total, found = registry.search(query, per_page, (page - 1) * per_page)
    downloads = catalog.downloads_by_crate(s.name for s in found)
    listed = catalog.listed({normalise(s.name): s.max_version for s in found if s.mirrored_from is None})
    wanted = normalise(query.strip())

    def around(number: int) -> str:
        return "?" + urlencode({"q": query, "page": number, "per_page": per_page})

    return {
        "crates": [
            _search_result(s, listed.get(normalise(s.name)), downloads.get(normalise(s.name), 0), wanted) for s in found
        ],
        "meta": {
            "total": total,
            "next_page": around(page + 1) if page * per_page < total else None,
            "prev_page": around(page - 1) if page > 1 else None,
        },
    }


def _search_result(summary: CrateSummary, listed: ListedVersions | None, downloads: int, wanted: str) -> dict[str, Any]:
    published = listed.published if listed is not None else {}
    metadata = listed.metadata if listed is not None else {}
    newest = max([summary.max_version, *published], key=parse_version)
    times = list(published.values())
    return {
        "id": summary.name,
        "name": summary.name,
        "updated_at": _iso(max(times)) if times else None,
        "created_at": _iso(min(times)) if times else None,
        "exact_match": normalise(summary.name) == wanted,
        "newest_version": newest,
        "max_version": summary.max_version,
        "max_stable_version": None if parse_version(summary.max_version).is_prerelease else summary.max_version,
        "description": summary.description or None,
        "homepage": _text(metadata.get("homepage")),
        "documentation": _text(metadata.get("documentation")),
        "repository": _text(metadata.get("repository")),
        "keywords": _strings(metadata.get("keywords")),
        "categories": _strings(metadata.get("categories")),
        "downloads": downloads,
        "recent_downloads": None,
    }


def _crate(
    registry: Registry, catalog: CatalogStore, name: str
) -> tuple[str, list[IndexEntry], dict[str, VersionInfo]]:
    canonical = registry.canonical_name(name)
    if canonical is None:
        raise CrateNotFound(name)
    return canonical, registry.entries(canonical), catalog.versions(canonical)


def _one(registry: Registry, catalog: CatalogStore, name: str, vers: str) -> tuple[str, IndexEntry, VersionInfo | None]:
    canonical, entries, infos = _crate(registry, catalog, name)
    entry = find_version(canonical, entries, vers)
    return canonical, entry, infos.get(entry["vers"])


def _version(registry: Registry, name: str, entry: IndexEntry, info: VersionInfo | None) -> dict[str, Any]:
    facts = version_facts(entry, info)
    vers, metadata, published = facts.vers, facts.metadata, facts.published
    try:
        size = registry.crate_size(name, vers)
    except NotFound:
        size = None
    return {
        "id": version_id(name, vers),
        "crate": name,
        "num": vers,
        "dl_path": f"{API}/{name}/{vers}/download",
        "readme_path": f"{API}/{name}/{vers}/readme",
        "updated_at": _iso(published),
        "created_at": _iso(published),
        "downloads": facts.downloads,
        "features": all_features(entry),
        "yanked": facts.yanked,
        "yank_message": None,
        "lib_links": entry.get("links"),
        "license": metadata.get("license"),
        "links": {
            "dependencies": f"{API}/{name}/{vers}/dependencies",
            "version_downloads": f"{API}/{name}/{vers}/downloads",
            "authors": f"{API}/{name}/{vers}/authors",
        },
        "crate_size": size,
        "published_by": (
            {"id": None, "login": facts.publisher, "name": facts.publisher, "avatar": None, "url": None}
            if facts.publisher
            else None
        ),
        "audit_actions": [],
        "checksum": entry["cksum"],
        "rust_version": entry.get("rust_version"),
        "has_lib": None,
        "bin_names": _strings(metadata["bin_names"]) if "bin_names" in metadata else None,
        "edition": None,
        "description": metadata.get("description"),
        "homepage": metadata.get("homepage"),
        "documentation": metadata.get("documentation"),
        "repository": metadata.get("repository"),
    }


def _dependency(dep: Dependency, vid: int) -> dict[str, Any]:
    real = dep.get("package") or dep["name"]
    return {
        "id": zlib.crc32(f"{vid} {dep['name']} {dep.get('kind')} {dep.get('target')}".encode()),
        "version_id": vid,
        "crate_id": real,
        "req": dep["req"],
        "optional": bool(dep.get("optional")),
        "default_features": dep.get("default_features", True),
        "features": dep.get("features") or [],
        "target": dep.get("target"),
        "kind": dep.get("kind") or "normal",
        "downloads": 0,
    }


def _newest_first(entries: list[IndexEntry]) -> list[IndexEntry]:
    return sorted(entries, key=lambda e: parse_version(e["vers"]), reverse=True)


def _metadata(infos: dict[str, VersionInfo], vers: str) -> dict[str, Any]:
    info = infos.get(vers)
    return info.metadata if info is not None else {}


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="microseconds")
