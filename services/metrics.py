"""The Prometheus metrics of `/metrics`, every one defined here.

Per app (counted by `palletizer_services.observe` through its `RequestMetrics`): requests by method, route
template and status; their latency; publishes. Of the registry, read when scraped, each from the service that
owns it, so that adding up the services counts nothing twice: index size from the index service
(`IndexStats`: a look at the git head per scrape, counting only the files changed since), downloads
per crate published here (mirrored crates together) from the files service (the catalog the downloads are
recorded in: it survives restarts and is shared by every process serving files). `palletizer-all` reports both.
"""

from collections.abc import Iterator

import falcon
from prometheus_client import CollectorRegistry, Counter, GCCollector, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from palletizer_lib.core.composition import Site
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.urls import PUBLISH_PATH
from palletizer_lib.stores.protocols import CatalogStore
from palletizer_lib.views.index_stats import IndexStats
from palletizer_services.mirror_metrics import MirrorCollector
from palletizer_services.read_access import NeedsRead

METRICS_PATH = "/metrics"
# The `crate` label of every mirrored crate's downloads together: a crate name never starts with `(`.
MIRRORED_LABEL = "(mirrored)"


class RequestMetrics:
    """The request counters of one app: requests, their latency, and successful publishes."""

    def __init__(self) -> None:
        self.requests = Counter(
            "palletizer_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=None,
        )
        self.latency = Histogram(
            "palletizer_http_request_duration_seconds",
            "Time from a request's arrival in the app to its response (a streamed body's "
            "transfer not included), by method and route template.",
            ["method", "route"],
            registry=None,
        )
        self.publishes = Counter(
            "palletizer_publishes",
            "Successful publish requests (cargo publish) answered by this process.",
            registry=None,
        )

    def observe(self, method: str, route: str, status: str, duration: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, status).inc()
        self.latency.labels(method, route).observe(duration)
        if (method, route, status) == ("PUT", PUBLISH_PATH, "200"):
            self.publishes.inc()


class IndexSizeCollector:
    """Crates, versions and yanked versions in the index (counted in the git index this node serves)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._stats = IndexStats(registry.served_git(), registry.layout.index_size)

    def collect(self) -> Iterator[Metric]:
        """The index's size now."""
        self._registry.served_git()
        size = self._stats.current()
        yield GaugeMetricFamily("palletizer_index_crates", "Crates in the index.", value=size.crates)
        yield GaugeMetricFamily(
            "palletizer_index_versions", "Crate versions in the index (yanked included).", value=size.versions
        )
        yield GaugeMetricFamily(
            "palletizer_index_yanked_versions", "Yanked crate versions in the index.", value=size.yanked
        )


class DownloadsCollector:
    """Downloads per crate (all its versions), as recorded in the catalog: one series per crate published
    here, and one (`crate="(mirrored)"`, not a crate name) for every crate mirrored from the upstream, so
    that anonymous downloads of upstream crates add no series."""

    def __init__(self, catalog: CatalogStore) -> None:
        self._catalog = catalog

    def collect(self) -> Iterator[Metric]:
        """Every downloaded crate's total, labelled with its exact name, and the mirrored crates' total."""
        family = CounterMetricFamily(
            "palletizer_crate_downloads",
            "Downloads of each crate published here, "
            "every version together, since it was first published; crates mirrored "
            f'from the upstream together as crate="{MIRRORED_LABEL}".',
            labels=["crate"],
        )
        for name, count in self._catalog.downloads_by_exact_name():
            family.add_metric([name], count)
        mirrored = self._catalog.other_downloads()
        if mirrored:
            family.add_metric([MIRRORED_LABEL], mirrored)
        yield family


def collectors(site: Site, requests: RequestMetrics, *, index_size: bool, downloads: bool) -> CollectorRegistry:
    """What one app's `/metrics` reports: its request metrics, the process's, and the registry facts it owns."""
    registry = CollectorRegistry()
    for metric in (requests.requests, requests.latency, requests.publishes):
        registry.register(metric)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    if index_size:
        registry.register(IndexSizeCollector(site.registry))
    if downloads:
        registry.register(DownloadsCollector(site.catalog))
    if site.registry.config.upstream:
        registry.register(MirrorCollector())
    return registry


class MetricsResource(NeedsRead):
    """`GET /metrics`: Prometheus's text format, or OpenMetrics if the scraper asks for it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        encode, content_type = choose_encoder(req.get_header("Accept") or "")
        resp.cache_control = ["no-store"]
        resp.content_type = content_type
        resp.data = encode(self._registry)
