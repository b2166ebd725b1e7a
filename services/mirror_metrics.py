"""The mirror's metrics (`palletizer_mirror_*`): what this process asked of the upstream and served from its
cache, from `palletizer_lib.mirror.state.PROCESS_STATS`."""

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from palletizer_lib.mirror.state import PROCESS_STATS, MirrorStats


class MirrorCollector:
    """Upstream requests, cache hits and misses, read-ahead, stale answers, errors and bytes fetched, since the
    start."""

    def __init__(self, stats: MirrorStats = PROCESS_STATS) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        """The counts now."""
        stats = self._stats
        yield CounterMetricFamily(
            "palletizer_mirror_upstream_requests",
            "Requests sent to the upstream registry (index files, crates, config.json).",
            value=stats.upstream_requests,
        )
        hits = CounterMetricFamily(
            "palletizer_mirror_cache_hits",
            "Mirrored index files and crates served from the cache without asking the upstream.",
            labels=["kind"],
        )
        hits.add_metric(["index"], stats.index_hits)
        hits.add_metric(["crate"], stats.crate_hits)
        yield hits
        misses = CounterMetricFamily(
            "palletizer_mirror_cache_misses",
            "Mirrored index files revalidated or fetched, and crates fetched, from the upstream.",
            labels=["kind"],
        )
        misses.add_metric(["index"], stats.index_misses)
        misses.add_metric(["crate"], stats.crate_misses)
        yield misses
        yield CounterMetricFamily(
            "palletizer_mirror_read_ahead",
            "Index files fetched ahead of cargo's asking: likely dependencies of those it asked for.",
            value=stats.read_ahead,
        )
        yield CounterMetricFamily(
            "palletizer_mirror_stale_served",
            "Cached index files served stale because the upstream failed.",
            value=stats.stale_served,
        )
        yield CounterMetricFamily(
            "palletizer_mirror_upstream_errors",
            "Upstream requests that failed, timed out or were refused (bad checksum, garbage, too large).",
            value=stats.errors,
        )
        yield CounterMetricFamily(
            "palletizer_mirror_upstream_bytes",
            "Bytes of index files and crates received from the upstream.",
            value=stats.bytes_fetched,
        )
