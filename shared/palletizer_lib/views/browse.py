"""What the web pages show: the crate list (with search) and a crate's page, assembled from the index
(versions, yanked, dependencies, features), the catalog (publish times, publishers, metadata, downloads)
and the accounts (owners). Plain data; the templates only lay it out.
"""

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import BadRequest, CrateNotFound, NotFound
from palletizer_lib.domain.index_entry import Dependency as EntryDependency
from palletizer_lib.domain.index_entry import IndexEntry
from palletizer_lib.domain.names import is_valid_name, normalise
from palletizer_lib.domain.readme import safe_url
from palletizer_lib.domain.urls import sparse_index_url
from palletizer_lib.domain.versions import find_version, max_version, parse_version
from palletizer_lib.mirror.mirrored_crate import MirroredCrate, cached_crate
from palletizer_lib.mirror.shadowing import local_first
from palletizer_lib.stores.catalog import VersionInfo
from palletizer_lib.stores.protocols import AccountStore, CatalogStore
from palletizer_lib.stores.search_index import SORTS
from palletizer_lib.views.version_facts import all_features, version_facts

PER_PAGE = 50
DEPENDENTS_SHOWN = 10
VERSIONS_PER_PAGE = 100
REGISTRY_NAME = "palletizer"
LINK_FIELDS = (("repository", "Repository"), ("homepage", "Homepage"), ("documentation", "Documentation"))
DEP_KIND_ORDER = ("normal", "build", "dev")


@dataclass(frozen=True)
class ListedCrate:
    """One crate in the list."""

    name: str
    max_version: str
    description: str
    downloads: int
    last_published: datetime | None
    mirrored_from: str | None = None


@dataclass(frozen=True)
class CrateList:
    """One page of the crate list: every crate (or those matching `query`, with `keyword` or in `category`
    if given), in the order `sort` (one of `search_index.SORTS`)."""

    query: str
    total: int
    page: int
    pages: int
    crates: list[ListedCrate]
    keyword: str = ""
    category: str = ""
    sort: str = "recent"


@dataclass(frozen=True)
class Dependency:
    """One dependency of a version; `registry` is None for a crate of this registry (which has a page)."""

    name: str
    crate: str
    req: str
    kind: str
    optional: bool
    target: str | None
    registry: str | None
    features: list[str]
    default_features: bool


@dataclass(frozen=True)
class VersionRow:
    """One version in the list of all versions."""

    vers: str
    yanked: bool
    published: datetime | None
    publisher: str | None
    downloads: int


@dataclass(frozen=True)
class CratePage:
    """Everything a crate's page shows, for one selected version."""

    name: str
    version: VersionRow
    description: str
    versions: list[VersionRow]
    owners: list[str]
    downloads: int
    dependencies: list[Dependency]
    features: dict[str, list[str]]
    links: list[tuple[str, str]]
    license: str | None
    keywords: list[str]
    categories: list[str]
    rust_version: str | None
    readme_html: str
    cargo_toml: str
    cargo_config: str
    cargo_add: str = ""
    cargo_install: str | None = None
    dependents: list[str] = field(default_factory=list)
    dependents_total: int = 0
    mirrored_from: str | None = None
    version_count: int = 0
    versions_page: int = 1
    versions_pages: int = 1


def crate_list(
    registry: Registry,
    catalog: CatalogStore,
    query: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
    keyword: str = "",
    category: str = "",
    sort: str = "recent",
) -> CrateList:
    """The crates matching `query` (name and description, as `cargo search`; all for an empty one), and
    having `keyword` or in `category` if given, by `sort` (one of `search_index.SORTS`: newest publication,
    name, most downloads; a crate named exactly `query` first of all), `per_page` at a time."""
    if sort not in SORTS:
        raise BadRequest(f"the list is sorted by one of {', '.join(SORTS)}, not {sort[:20]!r}")
    only = None
    for tag, value in (("keywords", keyword.strip()), ("categories", category.strip())):
        if value:
            tagged = catalog.tagged(tag, value)
            only = tagged if only is None else only & tagged
    page = max(page, 1)
    total, shown = registry.search(query, per_page, (page - 1) * per_page, sort=sort, only=only)
    pages = max(1, math.ceil(total / per_page))
    if page > pages:
        page = pages
        total, shown = registry.search(query, per_page, (page - 1) * per_page, sort=sort, only=only)
    downloads = catalog.downloads_by_crate(s.name for s in shown)
    crates = [
        ListedCrate(
            s.name,
            s.max_version,
            "" if s.mirrored_from else s.description,
            downloads.get(normalise(s.name), 0),
            _time(s.published),
            s.mirrored_from,
        )
        for s in shown
    ]
    return CrateList(query.strip(), total, page, pages, crates, keyword.strip(), category.strip(), sort)


def crate_page(
    registry: Registry,
    catalog: CatalogStore,
    accounts: AccountStore,
    name: str,
    version: str | None,
    fallback_url: str,
    versions_page: int = 1,
) -> CratePage:
    """The page of crate `name` (any spelling) at `version` (default: the one search shows, the newest not
    yanked), listing page `versions_page` of its versions (`VERSIONS_PER_PAGE` a page, newest first);
    NotFound if either does not exist. `fallback_url` is the server's own URL, for the
    `.cargo/config.toml` lines of a registry whose `config.json` does not name its public URL yet."""
    if not is_valid_name(name):
        raise CrateNotFound(name)
    page = _crate_page(registry, catalog, accounts, name, version, fallback_url)
    pages = max(1, math.ceil(len(page.versions) / VERSIONS_PER_PAGE))
    shown = min(max(versions_page, 1), pages)
    return replace(
        page,
        versions=page.versions[(shown - 1) * VERSIONS_PER_PAGE : shown * VERSIONS_PER_PAGE],
        version_count=len(page.versions),
        versions_page=shown,
        versions_pages=pages,
    )


def _crate_page(
    registry: Registry, catalog: CatalogStore, accounts: AccountStore, name: str, version: str | None, fallback_url: str
) -> CratePage:
    mirrored = partial(cached_crate, registry.layout, name) if registry.config.upstream else None
    found: list[IndexEntry] | MirroredCrate = local_first(partial(registry.entries, name), mirrored)
    if isinstance(found, MirroredCrate):
        return _mirrored_page(registry, catalog, found, version, fallback_url)
    entries = found
    canonical = entries[0]["name"]
    known = catalog.versions(canonical)
    rows = sorted((_row(e, known.get(e["vers"])) for e in entries), key=lambda r: parse_version(r.vers), reverse=True)
    summary_version = max_version(entries)
    entry = find_version(canonical, entries, version or summary_version)
    row = next(r for r in rows if r.vers == entry["vers"])
    described, metadata = _metadata(known, entry["vers"], rows)
    description = metadata.get("description") or ""
    links = [(label, url) for key, label in LINK_FIELDS if (url := safe_url(metadata.get(key)))]
    keywords, categories = metadata.get("keywords"), metadata.get("categories")
    bin_names = known[entry["vers"]].metadata.get("bin_names") if entry["vers"] in known else None
    dependents_total, dependents = registry.dependents(canonical, DEPENDENTS_SHOWN)
    return CratePage(
        name=canonical,
        version=row,
        description=description if isinstance(description, str) else "",
        versions=rows,
        owners=accounts.owners(canonical),
        downloads=sum(r.downloads for r in rows),
        dependencies=sorted(
            (_dependency(d) for d in entry["deps"]),
            key=lambda d: (DEP_KIND_ORDER.index(d.kind) if d.kind in DEP_KIND_ORDER else 9, d.name),
        ),
        features=all_features(entry),
        links=links,
        license=metadata.get("license") if isinstance(metadata.get("license"), str) else None,
        keywords=[k for k in keywords if isinstance(k, str)] if isinstance(keywords, list) else [],
        categories=[c for c in categories if isinstance(c, str)] if isinstance(categories, list) else [],
        rust_version=entry.get("rust_version"),
        readme_html=catalog.readme_html(canonical, described) if described is not None else "",
        cargo_toml=cargo_toml_line(canonical, summary_version),
        cargo_config=cargo_config(registry, fallback_url),
        cargo_add=cargo_add_line(canonical),
        cargo_install=cargo_install_line(canonical) if bin_names else None,
        dependents=[d.name for d in dependents],
        dependents_total=dependents_total,
    )


def _mirrored_page(
    registry: Registry, catalog: CatalogStore, crate: MirroredCrate, version: str | None, fallback_url: str
) -> CratePage:
    """The page of a crate of the mirror's cache: its versions from the cached index file (parsed once per
    version of the file; only the shown version's line is read again), no README."""
    downloads = catalog.version_downloads(crate.name)
    rows = [VersionRow(vers, yanked, None, None, downloads.get(vers, 0)) for vers, yanked in crate.versions]
    entry = crate.entry(version or crate.shown)
    if entry is None:
        raise NotFound(f"crate `{crate.name}` has no version {version or crate.shown}")
    return CratePage(
        name=crate.name,
        version=next(r for r in rows if r.vers == entry["vers"]),
        description="",
        versions=rows,
        owners=[],
        downloads=sum(r.downloads for r in rows),
        dependencies=sorted(
            (_dependency(d) for d in entry["deps"]),
            key=lambda d: (DEP_KIND_ORDER.index(d.kind) if d.kind in DEP_KIND_ORDER else 9, d.name),
        ),
        features=all_features(entry),
        links=[],
        license=None,
        keywords=[],
        categories=[],
        rust_version=entry.get("rust_version"),
        readme_html="",
        cargo_toml=f'{crate.name} = "{crate.shown}"',
        cargo_config=cargo_config(registry, fallback_url),
        cargo_add=cargo_add_line(crate.name),
        mirrored_from=registry.config.upstream,
    )


def cargo_toml_line(name: str, version: str) -> str:
    """The line that makes a project depend on `name` from this registry."""
    return f'{name} = {{ version = "{version}", registry = "{REGISTRY_NAME}" }}'


def cargo_add_line(name: str) -> str:
    """The command that adds `name` from this registry to a project's dependencies."""
    return f"cargo add {name} --registry {REGISTRY_NAME}"


def cargo_install_line(name: str) -> str:
    """The command that installs the binaries of `name` from this registry."""
    return f"cargo install {name} --registry {REGISTRY_NAME}"


def cargo_config(registry: Registry, fallback_url: str) -> str:
    """The `.cargo/config.toml` lines that make this registry known to cargo (with the credential
    provider cargo insists on when reads need a token)."""
    served = registry.served_urls()
    index = sparse_index_url(served.public if served is not None else fallback_url)
    lines = [f"[registries.{REGISTRY_NAME}]", f'index = "{index}"']
    if registry.config.auth_required:
        lines.append('credential-provider = ["cargo:token"]')
    return "\n".join(lines)


def _time(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp is not None else None


def _row(entry: IndexEntry, info: VersionInfo | None) -> VersionRow:
    facts = version_facts(entry, info)
    return VersionRow(facts.vers, facts.yanked, _time(facts.published), facts.publisher, facts.downloads)


def _metadata(known: dict[str, VersionInfo], vers: str, rows: list[VersionRow]) -> tuple[str | None, dict[str, Any]]:
    """The catalog's metadata of `vers`, else of the newest version that has any (a crate added before
    the catalog existed has none), with the version it describes."""
    if vers in known:
        return vers, known[vers].metadata
    return next(((r.vers, known[r.vers].metadata) for r in rows if r.vers in known), (None, {}))


def _dependency(dep: EntryDependency) -> Dependency:
    return Dependency(
        name=dep["name"],
        crate=dep.get("package") or dep["name"],
        req=dep["req"],
        kind=dep.get("kind") or "normal",
        optional=bool(dep.get("optional")),
        target=dep.get("target"),
        registry=dep.get("registry"),
        features=list(dep.get("features") or []),
        default_features=dep.get("default_features", True) is not False,
    )
