"""Real cargo against two palletizer-all nodes over one bucket and one database: it publishes through one
node and builds through the other, over the sparse index and over git."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from palletizer_lib.domain.names import index_path
from palletizer_lib.settings.storage import StorageConfig
from palletizer_lib.stores.git_index import GitIndex
from palletizer_lib.stores.git_replica import GitReplica
from palletizer_lib.stores.postgres_index import PgIndex, PgIndexLog
from tests.support.cargo import REGISTRY, Cargo
from tests.support.cluster import Cluster, node_command, running_cluster
from tests.support.cratekit import publish_body
from tests.support.graph import EXPECTED_OUTPUT, publish_graph, reg, write_app
from tests.support.server import free_port, palletizer, running_process


@pytest.fixture
def cluster(tmp_path: Path, s3_config: StorageConfig, postgres_url: str) -> Iterator[Cluster]:
    with running_cluster(tmp_path, s3_config, postgres_url) as running:
        yield running


def test_cargo_publishes_through_one_node_and_builds_through_the_other(tmp_path: Path, cluster: Cluster) -> None:
    publish_node, read_node = cluster.urls
    config = requests.get(f"{read_node}/index/config.json", timeout=10).json()
    assert config["api"] == publish_node and config["dl"].startswith(f"{read_node}/files/")
    assert requests.get(f"{publish_node}/index/config.json", timeout=10).json() == config
    cargo = Cargo.create(tmp_path / "publisher", f"sparse+{read_node}/index/", token=cluster.token())
    publish_graph(cargo, tmp_path / "src")

    app = write_app(tmp_path / "apps")
    sparse = cargo.fresh(tmp_path / "sparse-home")
    sparse.run(app, "build")
    assert sparse.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT

    for node in cluster.urls:
        git = Cargo.create(tmp_path / f"git-home-{node.rsplit(':', 1)[1]}", f"{node}/git/index")
        git_app = write_app(tmp_path / f"git-apps-{node.rsplit(':', 1)[1]}")
        git.run(git_app, "build")
        assert git.run(git_app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT

    found = sparse.run(tmp_path, "search", "--registry", REGISTRY, "middle").stdout
    assert found.startswith('middle = "0.1.0"')
    for node in cluster.urls:
        listed, page = (requests.get(f"{node}{path}", timeout=10) for path in ("/?q=middle", "/crates/middle"))
        assert listed.status_code == page.status_code == 200 and "middle" in listed.text and "0.1.0" in page.text

    refs = [
        requests.get(f"{node}/git/index/info/refs?service=git-upload-pack", timeout=10).content for node in cluster.urls
    ]
    assert refs[0] == refs[1]  # the same commits on both nodes
    assert palletizer(cluster.data[1], "verify").stdout == ""


def test_a_yank_through_one_node_is_seen_at_once_through_the_other(tmp_path: Path, cluster: Cluster) -> None:
    publish_node, read_node = cluster.urls
    cargo = Cargo.create(tmp_path / "publisher", f"sparse+{read_node}/index/", token=cluster.token())
    publish_graph(cargo, tmp_path / "src")
    pinned = write_app(tmp_path / "yank-apps", "pinned_app", reg("ab", "=0.1.1"))
    before = requests.get(f"{read_node}/index/2/ab", timeout=10)
    cargo.run(tmp_path, "yank", "--registry", REGISTRY, "ab@0.1.1")
    after = requests.get(f"{read_node}/index/2/ab", timeout=10, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and b'"yanked":true' in after.content
    refused = cargo.run(pinned, "generate-lockfile", check=False)
    assert refused.returncode != 0 and "yanked" in refused.stderr
    palletizer(cluster.data[1], "unyank", "ab", "0.1.1")  # the CLI, on another node's copy
    cargo.run(pinned, "generate-lockfile")


def test_a_node_with_several_workers_serves_what_the_other_publishes(
    tmp_path: Path, s3_config: StorageConfig, postgres_url: str
) -> None:
    def workers(data: Path, port: int) -> list[str]:
        return [*node_command(data, port), "--workers", "2"]

    with running_cluster(tmp_path, s3_config, postgres_url, commands={1: workers}) as cluster:
        token = cluster.token()
        for version in ("1.0.0", "1.1.0", "1.2.0"):
            body = publish_body("forked", version)
            assert (
                requests.put(
                    f"{cluster.urls[0]}/api/v1/crates/new", data=body, timeout=60, headers={"Authorization": token}
                ).status_code
                == 200
            )
            # each request may reach either worker: every one of them sees the version at once
            for _ in range(4):
                listed = requests.get(f"{cluster.urls[1]}/index/{index_path('forked')}", timeout=10).text
                assert f'"vers":"{version}"' in listed
        assert (
            requests.put(
                f"{cluster.urls[1]}/api/v1/crates/new",
                data=publish_body("forked", "2.0.0"),
                timeout=60,
                headers={"Authorization": token},
            ).status_code
            == 200
        )
        assert palletizer(cluster.data[0], "verify").stdout == ""


def test_every_node_squashes_its_git_history_at_the_same_changes_and_cargo_follows(
    tmp_path: Path, s3_config: StorageConfig, postgres_url: str
) -> None:
    with running_cluster(tmp_path, s3_config, postgres_url, settings={"git_squash_after": 3}) as cluster:
        publish_node, read_node = cluster.urls
        publisher = Cargo.create(tmp_path / "publisher", f"sparse+{read_node}/index/", token=cluster.token())
        sources = publish_graph(publisher, tmp_path / "src")
        git = Cargo.create(tmp_path / "git-home", f"{read_node}/git/index")
        app = write_app(tmp_path / "apps")
        assert git.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT

        (sources["x"] / "Cargo.toml").write_text(
            (sources["x"] / "Cargo.toml").read_text().replace('version = "0.1.0"', 'version = "0.1.1"')
        )
        publisher.publish(sources["x"])
        git.run(app, "update")  # the branch moved past a squash
        assert 'name = "x"\nversion = "0.1.1"' in (app / "Cargo.lock").read_text()
        assert git.run(app, "run", "-q").stdout.strip() == EXPECTED_OUTPUT

        refs = [
            requests.get(f"{node}/git/index/info/refs?service=git-upload-pack", timeout=10).content
            for node in cluster.urls
        ]
        assert refs[0] == refs[1]
        replicas = [GitReplica(GitIndex(data / "index.git"), data / "git-replica.lock") for data in cluster.data]
        positions = [replica.position() for replica in replicas]
        assert positions[0] == positions[1] > 3
        # the commit squashing the last multiple of 3, then the changes after it
        assert [replica.git.history_length(10) for replica in replicas] == [1 + positions[0] % 3] * 2

        # the log was compacted to the last squash point: a node started now builds the same commits from it
        assert PgIndexLog(PgIndex(postgres_url)).start().position == (positions[0] - 1) // 3 * 3 > 0
        late, port = tmp_path / "late-node", free_port()
        shutil.copytree(tmp_path / "node-template", late)
        late_url = f"http://127.0.0.1:{port}"
        with running_process(node_command(late, port), f"{late_url}/health", tmp_path / "late-node.log"):
            assert (
                requests.get(f"{late_url}/git/index/info/refs?service=git-upload-pack", timeout=10).content == refs[0]
            )
            late_git = Cargo.create(tmp_path / "late-home", f"{late_url}/git/index")
            assert late_git.run(write_app(tmp_path / "late-apps"), "run", "-q").stdout.strip() == EXPECTED_OUTPUT
        assert GitReplica(GitIndex(late / "index.git"), late / "git-replica.lock").git.history_length(10) == replicas[
            0
        ].git.history_length(10)
