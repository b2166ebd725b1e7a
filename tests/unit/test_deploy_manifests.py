"""The Kubernetes manifests of deploy/ (no cluster runs here): each valid against the API schemas of the oldest
and the newest Kubernetes that kubernetes-validate ships, strictly (no unknown field), and wired together:
the Deployment's pods, its Service and disruption budget, the settings and Secrets its containers read, the
init container's `palletizer init`."""

import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.support.cli import run_cli
from tests.support.server import ROOT

DEPLOY = ROOT / "deploy"
MANIFESTS = sorted(DEPLOY.glob("**/*.yaml"))
VERSIONS = ("1.25.0", kubernetes_validate.utils.latest_version())


def documents() -> list[dict]:
    return [document for path in MANIFESTS for document in yaml.safe_load_all(path.read_text()) if document]


def resource(kind: str, name: str = "palletizer") -> dict:
    [found] = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def pod() -> dict:
    return resource("Deployment")["spec"]["template"]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda path: str(path.relative_to(DEPLOY)))
def test_every_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(document, version, strict=True)


def test_the_manifests_are_what_deploy_readme_lists() -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in documents())
    assert kinds == [
        ("ConfigMap", "palletizer-settings"),
        ("Deployment", "palletizer"),
        ("PodDisruptionBudget", "palletizer"),
        ("Secret", "palletizer-database"),
        ("Secret", "palletizer-s3"),
        ("Service", "palletizer"),
    ]
    readme = (DEPLOY / "README.md").read_text()
    assert all(path.relative_to(DEPLOY).as_posix() in readme for path in MANIFESTS)


def test_the_service_and_the_budget_select_the_pods() -> None:
    labels = pod()["metadata"]["labels"]
    deployment = resource("Deployment")["spec"]
    assert deployment["selector"]["matchLabels"].items() <= labels.items() and deployment["replicas"] >= 2
    service = resource("Service")["spec"]
    assert service["selector"].items() <= labels.items()
    assert resource("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    [container] = pod()["spec"]["containers"]
    assert [port["targetPort"] for port in service["ports"]] == [port["name"] for port in container["ports"]]
    assert [port["containerPort"] for port in container["ports"]] == [8000]


def test_the_node_serves_its_own_copy_of_the_init_container_s_data_directory() -> None:
    spec = pod()["spec"]
    [init], [node] = spec["initContainers"], spec["containers"]
    [volume] = spec["volumes"]
    assert "emptyDir" in volume
    for container in (init, node):
        assert container["volumeMounts"] == [{"name": volume["name"], "mountPath": "/data"}]
        assert container["image"] == "localhost/palletizer:latest"
        assert container["resources"]["requests"].keys() == {"cpu", "memory"}
    assert node["command"] == ["palletizer-all"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert node[probe]["httpGet"] == {"path": "/health", "port": "http"}
    assert spec["securityContext"]["runAsUser"] == 10001 and spec["securityContext"]["fsGroup"] == 10001


def secret_keys() -> dict[str, set[str]]:
    return {d["metadata"]["name"]: set(d["stringData"]) for d in documents() if d["kind"] == "Secret"}


def test_the_containers_read_credentials_from_the_secrets() -> None:
    """The S3 keys under the names the S3 client reads, the database URL and (optional) PGPASSWORD, each from
    a key the example Secrets have; the server gets no database URL: it is in config.yaml."""
    keys = secret_keys()
    spec = pod()["spec"]
    [init], [node] = spec["initContainers"], spec["containers"]
    for container, names in (
        (init, {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL", "PGPASSWORD"}),
        (node, {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PGPASSWORD"}),
    ):
        secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
        assert set(secret_env) == names, container["name"]
        for name, ref in secret_env.items():
            assert ref["key"] in keys[ref["name"]], (name, ref)
            assert ref.get("optional", False) == (name == "PGPASSWORD")


def init_arguments(tmp_path: Path, settings: dict[str, str]) -> list[str]:
    """What the init container's shell script passes to `palletizer`, run by sh with `settings` and the example
    Secrets' values as its environment (`palletizer` there only prints its arguments)."""
    [init] = pod()["spec"]["initContainers"]
    assert init["command"] == ["sh", "-c"] and init["envFrom"] == [{"configMapRef": {"name": "palletizer-settings"}}]
    fake = tmp_path / "palletizer"
    fake.write_text('#!/bin/sh\nfor word in "$@"; do echo "$word"; done\n')
    fake.chmod(0o755)
    environment = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",
        **settings,
        "DATABASE_URL": resource("Secret", "palletizer-database")["stringData"]["DATABASE_URL"],
    }
    return subprocess.run(
        ["sh", "-c", *init["args"]], env=environment, capture_output=True, text=True, check=True
    ).stdout.splitlines()


def test_the_init_container_runs_palletizer_init_with_the_settings(tmp_path: Path) -> None:
    """Every option the script gives is one `palletizer init --help` lists; the endpoint only when set."""
    settings = resource("ConfigMap", "palletizer-settings")["data"]
    listed = set(re.findall(r"--[a-z][a-z0-9-]*", run_cli(tmp_path, "init", "--help").out))
    aws = init_arguments(tmp_path, settings)
    assert aws[:4] == ["--data", "/data", "init", "--exist-ok"]
    assert {word for word in aws if word.startswith("--")} - {"--data"} <= listed
    options = dict(zip(aws[4::2], aws[5::2], strict=False))
    assert options == {
        "--storage": f"s3://{settings['S3_BUCKET']}",
        "--s3-region": settings["S3_REGION"],
        "--database": "postgresql://palletizer@postgres.example.com:5432/palletizer",
        "--public-url": settings["PUBLIC_URL"],
    }
    other = init_arguments(tmp_path, {**settings, "S3_ENDPOINT": "http://minio.storage:9000"})
    assert dict(zip(other[4::2], other[5::2], strict=False)) == {
        **options,
        "--s3-endpoint": "http://minio.storage:9000",
    }
