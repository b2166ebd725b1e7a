"""Nodes killed with SIGKILL: mid-publish at each step, and while eight publishers work through two nodes.
No acknowledged publish is lost, nothing is half-visible, and the other node serves throughout."""

import hashlib
import json
import signal
import threading
from pathlib import Path

import pytest
import requests

from palletizer_lib.domain.names import index_path
from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.settings.storage import StorageConfig
from palletizer_lib.stores.git_index import GitIndex
from palletizer_lib.stores.git_replica import GitReplica
from palletizer_lib.stores.postgres_index import PgIndex, PgIndexLog
from tests.support.cluster import crashing_node, running_cluster
from tests.support.cluster_crash_server import STEPS
from tests.support.cratekit import crate_for, metadata
from tests.support.server import palletizer

PUBLISHERS, VERSIONS, KILL_AFTER = 8, 4, 10


def crate(name: str, version: str) -> bytes:
    return crate_for(metadata(name, version))


def checksum(name: str, version: str) -> str:
    return hashlib.sha256(crate(name, version)).hexdigest()


def publish(url: str, token: str, name: str, version: str) -> requests.Response:
    body = encode_publish_body(metadata(name, version), crate(name, version))
    return requests.put(f"{url}/api/v1/crates/new", data=body, headers={"Authorization": token}, timeout=60)


def served_versions(url: str, name: str) -> dict[str, str]:
    response = requests.get(f"{url}/index/{index_path(name)}", timeout=10)
    if response.status_code == 404:
        return {}
    assert response.status_code == 200, response.text
    lines = [line for line in response.text.splitlines() if line]
    return {entry["vers"]: entry["cksum"] for entry in map(json.loads, lines)}


def download(url: str, name: str, version: str) -> bytes:
    response = requests.get(f"{url}/files/{name}/{name}-{version}.crate", timeout=10)
    assert response.status_code == 200, response.text
    return response.content


@pytest.mark.parametrize("step", STEPS)
def test_a_node_killed_mid_publish_leaves_nothing_half_visible(
    tmp_path: Path, s3_config: StorageConfig, postgres_url: str, step: str
) -> None:
    with running_cluster(tmp_path, s3_config, postgres_url, commands={0: crashing_node(step)}) as cluster:
        token = cluster.token()
        with pytest.raises(requests.ConnectionError):
            publish(cluster.urls[0], token, "torn", "1.0.0")
        cluster.processes[0].wait(timeout=30)
        assert cluster.processes[0].returncode == -signal.SIGKILL
        survivor = cluster.urls[1]
        seen = served_versions(survivor, "torn")
        assert seen in ({}, {"1.0.0": checksum("torn", "1.0.0")})
        if seen:
            assert download(survivor, "torn", "1.0.0") == crate("torn", "1.0.0")
        assert publish(survivor, token, "after", "1.0.0").status_code == 200  # the next writer recovers
        retried = publish(survivor, token, "torn", "1.0.0")
        assert retried.status_code == 200 or "with these exact bytes" in retried.text
        assert served_versions(survivor, "torn") == {"1.0.0": checksum("torn", "1.0.0")}
        assert palletizer(cluster.data[1], "verify").stdout == ""


@pytest.mark.parametrize("squash_every", [None, 5], ids=["squashing-at-the-default", "compacting-every-5"])
def test_eight_publishers_over_two_nodes_lose_nothing_when_one_is_killed(
    tmp_path: Path, s3_config: StorageConfig, postgres_url: str, squash_every: int | None
) -> None:
    settings = {"git_squash_after": squash_every} if squash_every else None
    with running_cluster(tmp_path, s3_config, postgres_url, settings=settings) as cluster:
        token = cluster.token()
        acknowledged: list[tuple[str, str]] = []
        lock = threading.Lock()
        killed = threading.Event()
        reads_failed: list[str] = []

        def publisher(number: int) -> None:
            name = f"pub{number}"
            for version in (f"1.0.{v}" for v in range(VERSIONS)):
                node = number % 2
                while True:
                    url = cluster.urls[1 if killed.is_set() else node]
                    try:
                        response = publish(url, token, name, version)
                    except requests.ConnectionError:
                        continue  # node 0 is gone: the same publish, on node 1
                    if response.status_code == 200 or "with these exact bytes" in response.text:
                        break
                    raise AssertionError(f"{name} {version}: {response.status_code} {response.text}")
                with lock:
                    acknowledged.append((name, version))
                    if len(acknowledged) == KILL_AFTER and not killed.is_set():
                        cluster.processes[0].send_signal(signal.SIGKILL)
                        killed.set()

        def reader() -> None:
            while not done.is_set():
                for path in ("index/config.json", "git/index/info/refs?service=git-upload-pack"):
                    response = requests.get(f"{cluster.urls[1]}/{path}", timeout=30)
                    if response.status_code != 200:
                        reads_failed.append(f"{path}: {response.status_code}")

        done = threading.Event()
        reading = threading.Thread(target=reader)
        reading.start()
        threads = [threading.Thread(target=publisher, args=(n,)) for n in range(PUBLISHERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        done.set()
        reading.join(timeout=30)

        assert killed.is_set() and cluster.processes[0].wait(timeout=30) == -signal.SIGKILL
        assert len(acknowledged) == PUBLISHERS * VERSIONS and reads_failed == []
        for name, version in acknowledged:
            cksum = checksum(name, version)
            assert served_versions(cluster.urls[1], name)[version] == cksum
            assert hashlib.sha256(download(cluster.urls[1], name, version)).hexdigest() == cksum
        assert palletizer(cluster.data[1], "verify").stdout == ""
        if squash_every:
            # the log was compacted while node 1's replica followed it: a replica made now holds the same head
            log = PgIndexLog(PgIndex(postgres_url))
            start, head = log.start().position, int(log.head())
            assert start % squash_every == 0 and head - 2 * squash_every < start < head
            fresh = GitReplica(GitIndex.create(tmp_path / "fresh.git"), tmp_path / "fresh.lock", squash_every)
            fresh.catch_up(log)
            refs = requests.get(f"{cluster.urls[1]}/git/index/info/refs?service=git-upload-pack", timeout=30)
            assert fresh.git.head() in refs.content
