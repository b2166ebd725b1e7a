"""One version as the pages and the crates.io-style documents show it: its index entry and the catalog's row
of it, read together in one place."""

from dataclasses import dataclass, field
from typing import Any

from palletizer_lib.domain.index_entry import IndexEntry, pubtime_seconds
from palletizer_lib.stores.catalog import VersionInfo


@dataclass(frozen=True)
class VersionFacts:
    """What is shown of one version beside its features (`all_features`): from its index entry (yanked) and
    from what the catalog recorded of it (publisher, downloads, metadata); its publish time from the catalog
    (to the fraction of a second), else the entry's `pubtime`."""

    vers: str
    yanked: bool
    published: float | None
    publisher: str | None
    downloads: int
    metadata: dict[str, Any] = field(default_factory=dict)


def all_features(entry: IndexEntry) -> dict[str, list[str]]:
    """Every feature of a version (`features` and `features2` together), `default` first."""
    features = {**entry.get("features", {}), **(entry.get("features2") or {})}
    return dict(sorted(features.items(), key=lambda item: (item[0] != "default", item[0])))


def version_facts(entry: IndexEntry, info: VersionInfo | None) -> VersionFacts:
    """The facts of the version `entry` is, with the catalog's row of it (`info`, None if it has none)."""
    if info is None:
        return VersionFacts(entry["vers"], bool(entry.get("yanked")), pubtime_seconds(entry), None, 0)
    return VersionFacts(
        entry["vers"], bool(entry.get("yanked")), info.published, info.publisher, info.downloads, info.metadata
    )
