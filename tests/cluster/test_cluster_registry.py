"""A registry over a real bucket and a real database, through the library: nodes are Registry objects over
copies of one config-only data directory."""

import shutil
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from palletizer_lib.core.composition import compose
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import AlreadyPublished, BadRequest
from palletizer_lib.domain.names import index_path
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.settings.storage import StorageConfig
from tests.support.ceph import s3_admin
from tests.support.cratekit import make_crate, metadata


@pytest.fixture
def cluster_config(s3_config: StorageConfig, postgres_url: str) -> RegistryConfig:
    return RegistryConfig(public_url="http://registry.test", storage=s3_config.to_mapping(), database=postgres_url)


@pytest.fixture
def nodes(tmp_path: Path, cluster_config: RegistryConfig) -> tuple[Registry, Registry]:
    first = Registry.create(tmp_path / "node1", cluster_config)
    shutil.copytree(tmp_path / "node1", tmp_path / "node2", ignore=shutil.ignore_patterns("index.git"))
    return first, Registry(tmp_path / "node2")  # its git replica is made anew


def objects(s3_credentials, config: StorageConfig) -> dict[str, bytes]:
    client = s3_admin(s3_credentials)
    listed = client.list_objects_v2(Bucket=config.bucket, Prefix=config.prefix).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=config.bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_a_version_published_on_one_node_is_served_by_the_other(nodes, s3_credentials, s3_config) -> None:
    one, two = nodes
    crate = make_crate("shared", "1.0.0")
    entry = one.publish(metadata("shared", "1.0.0"), crate)
    assert two.entries("Shared")[0]["cksum"] == entry["cksum"]
    assert two.stored_crate("shared", "1.0.0") == crate
    assert two.served_index_file("shared").data == one.served_index_file("shared").data
    stored = objects(s3_credentials, s3_config)
    assert stored["reg/crates/shared/shared-1.0.0.crate"] == crate
    assert stored[f"reg/index/{index_path('shared')}"] == one.served_index_file("shared").data
    assert b'"dl"' in stored["reg/index/config.json"]
    with pytest.raises(AlreadyPublished):
        two.publish(metadata("shared", "1.0.0"), crate)
    two.set_yanked("shared", "1.0.0", True)
    assert one.entries("shared")[0]["yanked"] is True
    assert one.verify() == [] and two.verify() == []


def test_every_node_builds_the_same_git_history(nodes) -> None:
    one, two = nodes
    for version in ("1.0.0", "1.1.0"):
        one.publish(metadata("hist", version), make_crate("hist", version))
    two.remove("hist", "1.0.0")
    git_one, git_two = one.served_git(), two.served_git()
    assert git_one.head() == git_two.head()
    assert git_two.read(index_path("hist")).count(b"\n") == 1
    assert git_one.read("config.json") == one.log.read("config.json")


def test_accounts_and_search_are_shared(nodes) -> None:
    one, two = nodes
    site_one, site_two = compose(one), compose(two)
    site_one.accounts.add_user("alice")
    assert site_two.accounts.users() == ["alice"]
    one.publish(metadata("findme", "0.1.0", description="a crate to find"), make_crate("findme", "0.1.0"))
    total, found = two.search("find", 10)
    assert total == 1 and found[0].description == "a crate to find"


def test_git_squash_is_refused_with_the_reason(nodes) -> None:
    one, _ = nodes
    one.publish(metadata("kept", "1.0.0"), make_crate("kept", "1.0.0"))
    with pytest.raises(BadRequest, match="rebuilt from its change log on each node"):
        one.squash_git()


def test_health_names_a_bucket_that_cannot_be_reached(tmp_path: Path, nodes, s3_config: StorageConfig) -> None:
    one, _ = nodes
    assert one.health() == []
    config = RegistryConfig.load(tmp_path / "node2" / "config.yaml")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
        cut_off = replace(config, storage={**config.storage, "endpoint": endpoint})
        cut_off.save(tmp_path / "node2" / "config.yaml")
        [problem] = Registry(tmp_path / "node2").health()
    assert problem.startswith(f"the crate files cannot be reached: could not reach the bucket {s3_config.bucket}: ")
