"""Reads of a registry on several nodes: straight from the bucket when reads are open (`direct_reads`:
config.json, index files and crates anonymously, real cargo building from the bucket alone), and through
the nodes only, with a token, when reads need one (`auth_required`)."""

from pathlib import Path

import requests

from palletizer_lib.domain.names import index_path
from palletizer_lib.settings.storage import StorageConfig
from tests.support.cargo import Cargo
from tests.support.cluster import running_cluster
from tests.support.graph import EXPECTED_OUTPUT, publish_graph, write_app


def test_cargo_reads_the_index_and_downloads_straight_from_the_bucket(
    tmp_path: Path, s3_config: StorageConfig, postgres_url: str
) -> None:
    bucket_index = s3_config.public_index_url
    with running_cluster(tmp_path, s3_config, postgres_url, "--s3-direct-reads") as cluster:
        config = requests.get(f"{bucket_index}config.json", timeout=10)  # anonymous, from the bucket
        assert config.status_code == 200 and config.json()["dl"].startswith(s3_config.public_crates_url)
        assert config.json()["api"] == cluster.urls[0]
        cargo = Cargo.create(tmp_path / "publisher", f"sparse+{bucket_index}", token=cluster.token())
        publish_graph(cargo, tmp_path / "src")
        served = requests.get(f"{bucket_index}{index_path('middle')}", timeout=10)
        assert (
            served.status_code == 200
            and served.content == requests.get(f"{cluster.urls[1]}/index/{index_path('middle')}", timeout=10).content
        )
        assert requests.get(f"{bucket_index}{index_path('nosuchcrate')}", timeout=10).status_code == 404
        assert requests.put(f"{bucket_index}{index_path('middle')}", data=b"forged\n", timeout=10).status_code == 403
        downloads_before = requests.get(f"{cluster.urls[1]}/metrics", timeout=10).text
    app = write_app(tmp_path / "apps")
    fresh = cargo.fresh(tmp_path / "fresh-home")
    fresh.run(app, "build")  # every node is stopped now
    assert fresh.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT
    assert "palletizer_crate_downloads_total{" not in downloads_before  # the bucket counts nothing


def test_reads_need_a_token_through_every_node_and_the_bucket_stays_private(
    tmp_path: Path, s3_config: StorageConfig, postgres_url: str
) -> None:
    with running_cluster(tmp_path, s3_config, postgres_url, "--auth-required") as cluster:
        publisher = cluster.token()
        reader = cluster.token("reader", ("read",))
        cargo = Cargo.create(tmp_path / "publisher", f"sparse+{cluster.urls[1]}/index/", token=publisher)
        publish_graph(cargo, tmp_path / "src")
        for node in cluster.urls:
            assert requests.get(f"{node}/index/config.json", timeout=10).status_code == 401
            assert requests.get(f"{node}/files/middle/middle-0.1.0.crate", timeout=10).status_code == 401
            allowed = requests.get(f"{node}/index/config.json", timeout=10, headers={"Authorization": reader})
            assert allowed.status_code == 200 and allowed.json()["auth-required"] is True
        for key in ("index/config.json", f"index/{index_path('middle')}", "crates/middle/middle-0.1.0.crate"):
            assert requests.get(f"{s3_config.reader_url}/{s3_config.prefix}{key}", timeout=10).status_code == 403
        app = write_app(tmp_path / "apps")
        fresh = cargo.fresh(tmp_path / "reader-home", token=reader)
        fresh.run(app, "build")
        assert fresh.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT
        samples = requests.get(f"{cluster.urls[1]}/metrics", timeout=10, headers={"Authorization": reader}).text
        assert 'palletizer_crate_downloads_total{crate="middle"}' in samples  # counted through the nodes
