"""`/metrics` in process: requests counted by route template and status, publishes, downloads and the index's
size, and which service reports which registry fact. (Every server command serving it: tests/http.)"""

from pathlib import Path

import falcon.testing

from palletizer_lib.core.composition import compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.settings.config import RegistryConfig
from palletizer_services.api import app as api
from palletizer_services.files import app as files
from palletizer_services.index import app as index
from tests.support.cratekit import publish_body
from tests.support.inprocess import URL, InProcess
from tests.support.prometheus import Samples, samples, value
from tests.support.server import issue_token


def samples_of(client: falcon.testing.TestClient) -> Samples:
    return samples(client.simulate_get("/metrics"))


def test_metrics_count_requests_by_route_publishes_downloads_and_index_size(fresh_app: InProcess) -> None:
    app = fresh_app
    app.publish("metered")
    app.publish("metered", "1.1.0")
    for _ in range(3):
        assert app.get("/files/metered/metered-1.0.0.crate").status_code == 200
    for missing in ("abc", "xyz"):
        assert app.get(f"/index/3/{missing[0]}/{missing}").status_code == 404
    assert app.get("/no/such/page").status_code == 404
    assert app.yank("metered", "1.0.0").status_code == 200
    samples = samples_of(app.client)

    requests_total = "palletizer_http_requests_total"
    assert value(samples, requests_total, method="PUT", route="/api/v1/crates/new", status="200") == 2
    assert value(samples, requests_total, method="GET", route="/files/{crate}/{filename}", status="200") == 3
    assert value(samples, requests_total, method="GET", route="/index/{a}/{b}/{c}", status="404") == 2
    assert value(samples, requests_total, method="GET", route="-", status="404") == 1
    labels = {v for (_, pairs) in samples for _, v in pairs}
    assert not {"abc", "xyz", "/no/such/page", "/index/3/a/abc"} & labels  # templates, never raw paths
    duration = "palletizer_http_request_duration_seconds"
    assert value(samples, f"{duration}_count", method="GET", route="/files/{crate}/{filename}") == 3
    assert value(samples, f"{duration}_bucket", method="GET", route="/files/{crate}/{filename}", le="+Inf") == 3
    assert value(samples, "palletizer_publishes_total") == 2
    assert value(samples, "palletizer_crate_downloads_total", crate="metered") == 3
    assert value(samples, "palletizer_index_crates") == 1
    assert value(samples, "palletizer_index_versions") == 2
    assert value(samples, "palletizer_index_yanked_versions") == 1


def test_a_refused_publish_is_not_a_publish(fresh_app: InProcess) -> None:
    assert fresh_app.put_body(publish_body("refused", "1.0.0"), token=None).status_code == 401
    samples = samples_of(fresh_app.client)
    assert value(samples, "palletizer_http_requests_total", method="PUT", route="/api/v1/crates/new", status="401") == 1
    assert value(samples, "palletizer_publishes_total") == 0


def test_each_service_apart_reports_the_registry_facts_it_owns(tmp_path: Path) -> None:
    data = tmp_path / "data"
    registry = Registry.create(data, RegistryConfig())
    registry.set_urls(registry.config.served_urls(URL))
    token = issue_token(data)
    site = compose(registry)
    try:
        clients = {service: falcon.testing.TestClient(service.create(site)) for service in (api, index, files)}
        published = clients[api].simulate_put(
            "/api/v1/crates/new", body=publish_body("Split_Crate", "1.0.0"), headers={"Authorization": token}
        )
        assert published.status_code == 200, published.text
        assert clients[files].simulate_get("/files/Split_Crate/Split_Crate-1.0.0.crate").status_code == 200
        api_samples, index_samples, files_samples = (samples_of(clients[s]) for s in (api, index, files))
    finally:
        site.catalog.download_counter.close()

    assert value(api_samples, "palletizer_publishes_total") == 1
    assert value(index_samples, "palletizer_index_versions") == 1
    assert value(files_samples, "palletizer_crate_downloads_total", crate="Split_Crate") == 1  # its exact name
    for service in (api_samples, files_samples):
        assert value(service, "palletizer_index_versions") is None
    for service in (api_samples, index_samples):
        assert not any(name == "palletizer_crate_downloads_total" for name, _ in service)
    assert (
        value(
            files_samples,
            "palletizer_http_requests_total",
            method="GET",
            route="/files/{crate}/{filename}",
            status="200",
        )
        == 1
    )
    assert value(index_samples, "palletizer_publishes_total") == 0
