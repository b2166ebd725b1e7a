"""The `storage:` setting (an S3 bucket for the crate files and the served index): parsed and checked, kept
in `config.yaml`, set by `palletizer init`; none of it imports an S3 client."""

from pathlib import Path

import pytest
import yaml

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import BadRequest
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.settings.storage import StorageConfig
from tests.support.cli import run_cli
from tests.support.server import free_port


def test_a_bucket_alone() -> None:
    config = StorageConfig.from_mapping({"url": "s3://my-bucket"})
    assert config == StorageConfig(bucket="my-bucket")
    assert config.to_mapping() == {"url": "s3://my-bucket"}
    assert config.public_index_url == "https://s3.us-east-1.amazonaws.com/my-bucket/index/"


def test_every_setting_normalised() -> None:
    config = StorageConfig.from_mapping(
        {
            "url": "s3://reg.files-1/",
            "endpoint": "http://127.0.0.1:7480/",
            "region": "eu-west-3",
            "prefix": "team/reg",
            "public_url": "https://cdn.example/files/",
        }
    )
    assert config == StorageConfig(
        bucket="reg.files-1",
        endpoint="http://127.0.0.1:7480",
        region="eu-west-3",
        prefix="team/reg/",
        public_url="https://cdn.example/files",
    )
    assert config.public_index_url == "https://cdn.example/files/team/reg/index/"
    assert config.public_crates_url == "https://cdn.example/files/team/reg/crates/"
    assert StorageConfig.from_mapping(config.to_mapping()) == config


def test_readers_default_to_the_endpoints_path_style_bucket() -> None:
    config = StorageConfig.from_mapping({"url": "s3://b12", "endpoint": "http://s3.local:9000", "prefix": "/"})
    assert config.prefix == "" and config.public_index_url == "http://s3.local:9000/b12/index/"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "must be a mapping"),
        ("s3://bucket", "must be a mapping"),
        ({}, "`url` is required"),
        ({"url": "s3://bucket", "secret_key": "x"}, "unknown setting.s. secret_key"),
        ({"url": "https://bucket"}, "url must be s3://BUCKET"),
        ({"url": 12}, "url must be s3://BUCKET"),
        ({"url": "s3://bucket/path"}, "must name a bucket only"),
        ({"url": "s3://Upper"}, "not a valid S3 bucket name"),
        ({"url": "s3://ab"}, "not a valid S3 bucket name"),
        ({"url": "s3://a..b"}, "not a valid S3 bucket name"),
        ({"url": "s3://-ab"}, "not a valid S3 bucket name"),
        ({"url": "s3://" + "a" * 64}, "not a valid S3 bucket name"),
        ({"url": "s3://bucket", "endpoint": "ftp://host"}, "endpoint: `ftp://host` is not an http.s. URL"),
        ({"url": "s3://bucket", "endpoint": "http://"}, "endpoint: .* is not an http.s. URL"),
        ({"url": "s3://bucket", "endpoint": "http://host:99999"}, "endpoint: .* is not a valid URL"),
        ({"url": "s3://bucket", "endpoint": "http://u:p@host"}, "endpoint: .* is not an http.s. URL"),
        ({"url": "s3://bucket", "endpoint": "http://host/?x=1"}, "endpoint: .* is not an http.s. URL"),
        ({"url": "s3://bucket", "endpoint": ["http://host"]}, "endpoint: .* is not an http.s. URL"),
        ({"url": "s3://bucket", "region": "US East"}, "region: `US East` is not a region name"),
        ({"url": "s3://bucket", "prefix": "../up"}, "prefix: `../up` is not a key prefix"),
        ({"url": "s3://bucket", "prefix": "/abs"}, "prefix: `/abs` is not a key prefix"),
        ({"url": "s3://bucket", "prefix": "a//b"}, "prefix: .* is not a key prefix"),
        ({"url": "s3://bucket", "prefix": "a/./b"}, "prefix: .* is not a key prefix"),
        ({"url": "s3://bucket", "prefix": "sp ace"}, "prefix: .* is not a key prefix"),
        ({"url": "s3://bucket", "prefix": 3}, "prefix: `3` is not a key prefix"),
        ({"url": "s3://bucket", "public_url": "bucket.example"}, "public_url: .* is not an http.s. URL"),
    ],
)
def test_a_bad_setting_says_what_is_wrong(raw: object, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        StorageConfig.from_mapping(raw)


def test_the_registry_config_checks_and_keeps_the_storage(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"storage": {"url": "s3://bucket", "prefix": "reg"}}))
    config = RegistryConfig.load(path)
    assert config.storage == {"url": "s3://bucket", "prefix": "reg/"}
    assert config.storage_config == StorageConfig(bucket="bucket", prefix="reg/")
    path.write_text(yaml.safe_dump({"storage": {"url": "s3://bucket", "region": "nowhere!"}}))
    with pytest.raises(BadRequest, match=f"{path}: storage: region: `nowhere!` is not a region name"):
        RegistryConfig.load(path)


def test_a_registry_without_storage_writes_no_storage_setting(tmp_path: Path) -> None:
    Registry.create(tmp_path / "data", RegistryConfig())
    assert "storage" not in yaml.safe_load((tmp_path / "data" / "config.yaml").read_text())
    assert Registry(tmp_path / "data").config.storage_config is None


def test_init_refuses_a_bucket_it_cannot_reach(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMIEXAMPLEKEY")
    result = run_cli(
        tmp_path / "data",
        "init",
        "--storage",
        "s3://reg-bucket",
        "--s3-endpoint",
        f"http://127.0.0.1:{free_port()}",
        "--s3-region",
        "us-east-1",
        check=False,
    )
    assert result.code != 0 and len(result.err.strip().splitlines()) == 1, result.err
    assert "reg-bucket" in result.err and "EXAMPLEKEY" not in result.err
    assert not (tmp_path / "data" / "config.yaml").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--s3-endpoint", "http://127.0.0.1:7480"], "--s3-endpoint need --storage s3://BUCKET"),
        (["--storage", "s3://UPPER"], "`UPPER` is not a valid S3 bucket name"),
        (["--storage", "s3://bucket", "--s3-prefix", "../x"], "prefix: `../x` is not a key prefix"),
    ],
)
def test_init_refuses_bad_storage_options(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli(tmp_path / "data", "init", *args, check=False)
    assert result.code != 0 and message in result.err
    assert not (tmp_path / "data").exists()


def test_direct_reads_cannot_go_with_auth_required(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path / "data", "init", "--storage", "s3://reg-bucket", "--s3-direct-reads", "--auth-required", check=False
    )
    assert result.code != 0 and "direct_reads lets anyone read the bucket" in result.err
    assert not (tmp_path / "data" / "config.yaml").exists()
