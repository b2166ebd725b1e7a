"""Reading a `/metrics` answer in the tests."""

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset], float]


def samples(response: Any) -> Samples:
    """Every sample of a `/metrics` answer (requests' or Falcon's TestClient's), by name and labels; the
    answer must be a 200 in Prometheus's text format."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    """The sample `name` with exactly `labels`, None if there is none."""
    return found.get((name, frozenset(labels.items())))
