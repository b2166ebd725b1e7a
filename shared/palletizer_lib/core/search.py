"""Search and the crate list: the search table's matches in order, then the mirror's cached crates that match."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.names import normalise
from palletizer_lib.index.store import IndexStore
from palletizer_lib.mirror.catalog import catalog_of


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

    def __init__(
        self,
        index: IndexStore,
        lock: Callable[[], AbstractContextManager[object]],
        layout: Layout,
        upstream: str | None,
    ) -> None:
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

    def search(
        self, query: str, limit: int, offset: int = 0, sort: str | None = None, only: set[str] | None = None
    ) -> tuple[int, list[CrateSummary]]:
        """Crates whose name or description matches `query` (all for an empty one), limited to the normalised
        names of `only` if given: (total matches, `limit` of them from `offset`). The crate named exactly
        `query` comes first, then names starting with it (or by `sort`, one of `search_index.SORTS`), then by
        name; crates of the mirror's cache come after the registry's own, those published here since they were
        cached left out (for a query, all that match it; for the whole list, those on the page asked for, so
        that a list page never reads every local name: its count may still include some not seen yet)."""
        self._build()
        table = self._index.search_index
        wanted = normalise(query.strip())
        keys = table.matching(query)
        if only is not None:
            keys = only if keys is None else keys & only
        total, rows = table.page(keys, wanted, sort, limit, offset)
        found = [CrateSummary(r.name, r.max_version, r.description, published=r.published) for r in rows]
        if self._upstream and only is None:
            catalog = catalog_of(self._layout)
            if keys is not None:
                catalog.shadow(keys)
            while True:
                mirrored, shown = catalog.search(query, max(0, limit - len(found)), max(0, offset - total))
                local = {normalise(r.name) for r in shown if table.known(normalise(r.name))}
                if not local:
                    break
                catalog.shadow(local)
            found += [CrateSummary(r.name, r.shown, f"mirrored from {self._upstream}", self._upstream) for r in shown]
            total += mirrored
        return total, found

    def _build(self) -> None:
        """Build the search table from the summaries once, for a registry made before it existed."""
        if self._index.search_index.is_built():
            return
        with self._lock():
            if not self._index.search_index.is_built():
                self._index.rebuild_search_index()
