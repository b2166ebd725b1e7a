"""Search and the crate list: the search table's matches in order, then the mirror's cached crates that match."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from .crate_names import normalise
from .index_store import IndexStore
from .layout import Layout
from .mirror import cached_summaries


@dataclass(frozen=True)
class CrateSummary:
    """What search and listings show of a crate."""

    name: str
    max_version: str
    description: str
    mirrored_from: str | None = None
    published: float | None = field(default=None, compare=False)


class CrateSearch:
    """Search over one registry's index store (its search table built under `lock` on first use, for a registry
    made before it existed), with the crates of the mirror's cache in `layout` when `upstream` is set."""

    def __init__(self, index: IndexStore, lock: Callable[[], AbstractContextManager[object]], layout: Layout,
                 upstream: str | None) -> None:
        self._index = index
        self._lock = lock
        self._layout = layout
        self._upstream = upstream

    def summaries(self) -> Iterator[CrateSummary]:
        """Every crate's summary, in no particular order."""
        self._build()
        described = self._index.search_index.descriptions()
        for name, shown in self._index.summaries.list():
            yield CrateSummary(name, shown, described.get(normalise(name), ""))

    def search(self, query: str, limit: int, offset: int = 0,
               recent: bool = False, only: set[str] | None = None) -> tuple[int, list[CrateSummary]]:
        """Crates whose name or description matches `query` (all for an empty one), limited to the normalised
        names of `only` if given: (total matches, `limit` of them from `offset`). The crate named exactly
        `query` comes first, then names starting with it (`recent`: the newest publication first), then by
        name; crates of the mirror's cache come after the registry's own."""
        self._build()
        table = self._index.search_index
        wanted = normalise(query.strip())
        keys = table.matching(query)
        if only is not None:
            keys = only if keys is None else keys & only
        total, rows = table.page(keys, wanted, recent, limit, offset)
        found = [CrateSummary(r.name, r.max_version, r.description, published=r.published) for r in rows]
        if self._upstream and only is None:
            mirrored = sorted(self._mirrored_matches(_matcher(query), table.known),
                              key=lambda s: (normalise(s.name) != wanted, not normalise(s.name).startswith(wanted),
                                             s.name.lower()))
            start = max(0, offset - total)
            found += mirrored[start:start + limit - len(found)]
            total += len(mirrored)
        return total, found

    def _build(self) -> None:
        """Build the search table from the summaries once, for a registry made before it existed."""
        if self._index.search_index.is_built():
            return
        with self._lock():
            if not self._index.search_index.is_built():
                self._index.rebuild_search_index()

    def _mirrored_matches(self, matches: Callable[[CrateSummary], bool],
                          local: Callable[[str], bool]) -> Iterator[CrateSummary]:
        """The crates of the mirror's cache whose name matches (none published here in any spelling: `local`
        tells by normalised name), from the cache alone; described as mirrored from the upstream."""
        seen: set[str] = set()
        for name, version in cached_summaries(self._layout):
            key = normalise(name)
            if key not in seen and not local(key) and matches(CrateSummary(name, version, "")):
                seen.add(key)
                yield CrateSummary(name, version, f"mirrored from {self._upstream}", self._upstream)


def _matcher(query: str) -> Callable[[CrateSummary], bool]:
    """Search's rule, for crates outside the search table: the normalised query in the normalised name, or
    every word in the name and description (a word also matching the name normalised)."""
    words = [w for w in query.lower().split() if w]
    wanted = normalise(query.strip())

    def matches(summary: CrateSummary) -> bool:
        name = normalise(summary.name)
        text = f"{name} {summary.description.lower()}"
        return wanted in name or all(w in text or normalise(w) in name for w in words)
    return matches
