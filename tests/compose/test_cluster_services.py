"""compose.cluster.yaml's own services (`init`, `node1`, `node2`) in the real image, run by podman with their
entrypoints, commands, environment and volumes as the file gives them: `make test-compose`.

The postgres and minio images cannot be pulled here, so their places are taken by the test PostgreSQL and the
test Ceph gateway, and the containers share the host's network: the file's `postgres:5432` and `minio:9000`
become those servers' addresses, each node listens on a port of its own, and nothing else is changed.
Containers and volumes are removed afterwards, also when a test fails.
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.ceph import CephS3, ceph_s3, s3_admin  # noqa: F401
from tests.support.compose_file import interpolate
from tests.support.cratekit import make_crate
from tests.support.postgres import PostgresServer, postgres_server  # noqa: F401
from tests.support.readiness import NotReady, http_healthy, wait_until_ready
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
CONTAINER_RUNTIME = ROOT.parent / "shared" / "tools" / "container-runtime"
IMAGE = "localhost/palletizer:latest"
NODES = ("node1", "node2")
STARTUP_SECONDS = 120
PASSWORD = "cluster-test-password"


@dataclass
class ClusterServices:
    """The file's services as podman runs them for one test module."""

    prefix: str
    environment: dict[str, str]
    addresses: dict[str, str]
    urls: dict[str, str]

    def service(self, name: str) -> dict:
        return yaml.safe_load((ROOT / "compose.cluster.yaml").read_text())["services"][name]

    def value(self, text: str) -> str:
        for written, address in self.addresses.items():
            text = text.replace(written, address)
        return interpolate(text, self.environment)

    def run(self, name: str, *options: str) -> subprocess.CompletedProcess:
        """`podman run` of service `name` as the file gives it (detached for a node); raise if it fails."""
        service = self.service(name)
        environment = {key: self.value(str(value)) for key, value in service.get("environment", {}).items()}
        if name in NODES:
            environment["PALLETIZER_LISTEN"] = self.urls[name].removeprefix("http://")
        [entrypoint, *arguments] = service["entrypoint"]
        command = [
            "podman",
            "run",
            "--name",
            f"{self.prefix}-{name}",
            "--network",
            "host",
            *options,
            *(arg for key, value in environment.items() for arg in ("-e", f"{key}={value}")),
            *(arg for volume in service["volumes"] for arg in ("-v", f"{self.prefix}-{volume}")),
            "--entrypoint",
            entrypoint,
            IMAGE,
            *arguments,
            *(self.value(word) for word in service.get("command", [])),
        ]
        return podman(*command[1:])

    def wait_healthy(self, node: str) -> None:
        """Wait until `node` answers 200 on /health over HTTP."""
        try:
            wait_until_ready(http_healthy(f"{self.urls[node]}/health"), seconds=STARTUP_SECONDS)
        except NotReady as error:
            raise AssertionError(f"{node}: {error}\n{podman('logs', f'{self.prefix}-{node}').stdout}") from None

    def exec(self, node: str, *command: str, stdin: bytes | None = None) -> str:
        result = subprocess.run(
            ["podman", "exec", "-i", f"{self.prefix}-{node}", *command], input=stdin, capture_output=True, timeout=120
        )
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode()


def podman(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args[:3])} failed:\n{result.stdout}\n{result.stderr}")
    return result


def database(server: PostgresServer) -> str:
    """A role `palletizer` with a password and a database `palletizer` it owns, as the postgres image makes
    them (the test cluster trusts loopback clients, so the password is given but not checked)."""
    with server.admin() as admin:
        admin.execute(f"CREATE ROLE palletizer LOGIN PASSWORD '{PASSWORD}'")
        admin.execute("CREATE DATABASE palletizer OWNER palletizer")
    return f"127.0.0.1:{server.port}"


@pytest.fixture(scope="module")
def cluster(ceph_s3: CephS3, postgres_server: PostgresServer) -> Iterator[ClusterServices]:  # noqa: F811
    if CONTAINER_RUNTIME.is_file():
        subprocess.run([str(CONTAINER_RUNTIME)], check=True, timeout=900)
    else:
        assert shutil.which("podman"), f"neither {CONTAINER_RUNTIME} nor podman is here"
    podman("build", "-q", "-t", IMAGE, str(ROOT))
    prefix = f"palletizer-cluster-{os.getpid()}"
    bucket = f"{prefix}-bucket"
    s3_admin(ceph_s3).create_bucket(Bucket=bucket)
    environment = {
        "AWS_ACCESS_KEY_ID": ceph_s3.access_key,
        "AWS_SECRET_ACCESS_KEY": ceph_s3.secret_key,
        "PGPASSWORD": PASSWORD,
        "PALLETIZER_BUCKET": bucket,
    }
    urls = {node: f"http://127.0.0.1:{free_port()}" for node in NODES}
    environment["PALLETIZER_PUBLIC_URL"] = urls["node1"]
    addresses = {"http://minio:9000": ceph_s3.endpoint, "@postgres:5432": f"@{database(postgres_server)}"}
    services = ClusterServices(prefix, environment, addresses, urls)
    try:
        yield services
    finally:
        for name in ("init", *NODES):
            subprocess.run(["podman", "rm", "-f", f"{prefix}-{name}"], capture_output=True, timeout=120)
        for volume in ("config", *NODES):
            subprocess.run(["podman", "volume", "rm", "-f", f"{prefix}-{volume}"], capture_output=True, timeout=120)


def test_init_makes_the_config_volume_once(cluster: ClusterServices) -> None:
    first = cluster.run("init", "--rm")
    assert "initialised an empty registry in /data" in first.stderr
    again = cluster.run("init", "--rm")
    assert "initialised" not in again.stderr


def test_both_nodes_start_from_the_config_volume(cluster: ClusterServices) -> None:
    for node in NODES:
        cluster.run(node, "-d")
    for node in NODES:
        cluster.wait_healthy(node)
    config_json = requests.get(f"{cluster.urls['node2']}/index/config.json", timeout=10).json()
    assert config_json["api"] == cluster.urls["node1"]


def test_a_crate_added_on_one_node_is_served_by_the_other(cluster: ClusterServices) -> None:
    crate = make_crate("clustered", "1.0.0")
    assert "clustered 1.0.0" in cluster.exec("node1", "palletizer", "add", "-", stdin=crate)
    entry = requests.get(f"{cluster.urls['node2']}/index/cl/us/clustered", timeout=10)
    assert entry.status_code == 200 and '"vers":"1.0.0"' in entry.text
    assert requests.get(f"{cluster.urls['node2']}/files/clustered/clustered-1.0.0.crate", timeout=10).content == crate
    cluster.exec("node2", "palletizer", "user", "add", "carol")
    assert "carol" in cluster.exec("node1", "palletizer", "user", "list").split()


def test_a_restarted_node_keeps_its_replica(cluster: ClusterServices) -> None:
    """Its git index, brought up to the database by a fetch, is the same after the restart (the template is
    copied on the first start only)."""
    refs = requests.get(f"{cluster.urls['node2']}/git/index/info/refs?service=git-upload-pack", timeout=30)
    assert refs.status_code == 200
    log = ["git", "--git-dir", "/data/index.git", "log", "--format=%s"]
    before = cluster.exec("node2", *log)
    assert "Publish clustered 1.0.0" in before
    podman("restart", f"{cluster.prefix}-node2")
    cluster.wait_healthy("node2")
    assert cluster.exec("node2", *log) == before
    assert requests.get(f"{cluster.urls['node2']}/index/cl/us/clustered", timeout=10).status_code == 200
