"""The `storage:` setting (an S3 bucket for the crate files and the served index): parsed and checked, kept
in `config.yaml`, set by `palletizer init`; none of it imports an S3 client."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from palletizer_lib.config import RegistryConfig
from palletizer_lib.errors import BadRequest
from palletizer_lib.registry import Registry
from palletizer_lib.storage_config import StorageConfig
from tests.support.server import palletizer


def test_a_bucket_alone() -> None:
    config = StorageConfig.from_mapping({"url": "s3://my-bucket"})
    assert config == StorageConfig(bucket="my-bucket")
    assert config.to_mapping() == {"url": "s3://my-bucket"}
    assert config.public_index_url == "https://s3.us-east-1.amazonaws.com/my-bucket/index/"


def test_every_setting_normalised() -> None:
    config = StorageConfig.from_mapping({"url": "s3://reg.files-1/", "endpoint": "http://127.0.0.1:7480/",
                                         "region": "eu-west-3", "prefix": "team/reg",
                                         "public_url": "https://cdn.example/files/"})
    assert config == StorageConfig(bucket="reg.files-1", endpoint="http://127.0.0.1:7480", region="eu-west-3",
                                   prefix="team/reg/", public_url="https://cdn.example/files")
    assert config.public_index_url == "https://cdn.example/files/team/reg/index/"
    assert config.public_crates_url == "https://cdn.example/files/team/reg/crates/"
    assert StorageConfig.from_mapping(config.to_mapping()) == config


def test_readers_default_to_the_endpoints_path_style_bucket() -> None:
    config = StorageConfig.from_mapping({"url": "s3://b12", "endpoint": "http://s3.local:9000", "prefix": "/"})
    assert config.prefix == "" and config.public_index_url == "http://s3.local:9000/b12/index/"


@pytest.mark.parametrize(("raw", "message"), [
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
])
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


def test_init_writes_the_storage_and_no_credentials(tmp_path: Path) -> None:
    data = tmp_path / "data"
    palletizer(data, "init", "--storage", "s3://reg-bucket", "--s3-endpoint", "http://127.0.0.1:7480",
               "--s3-region", "us-east-1", "--s3-prefix", "one/", "--s3-public-url", "https://files.example")
    text = (data / "config.yaml").read_text()
    assert yaml.safe_load(text)["storage"] == {"url": "s3://reg-bucket", "endpoint": "http://127.0.0.1:7480",
                                               "region": "us-east-1", "prefix": "one/",
                                               "public_url": "https://files.example"}
    assert "secret" not in text.lower() and "access" not in text.lower()


@pytest.mark.parametrize(("args", "message"), [
    (["--s3-endpoint", "http://127.0.0.1:7480"], "--s3-endpoint need --storage s3://BUCKET"),
    (["--storage", "s3://UPPER"], "`UPPER` is not a valid S3 bucket name"),
    (["--storage", "s3://bucket", "--s3-prefix", "../x"], "prefix: `../x` is not a key prefix"),
])
def test_init_refuses_bad_storage_options(tmp_path: Path, args: list[str], message: str) -> None:
    result = palletizer(tmp_path / "data", "init", *args, check=False)
    assert result.returncode != 0 and message in result.stderr
    assert not (tmp_path / "data").exists()


def test_a_registry_with_storage_imports_no_s3_client(tmp_path: Path) -> None:
    data = tmp_path / "data"
    palletizer(data, "init", "--storage", "s3://reg-bucket")
    program = ("import sys; from pathlib import Path; from palletizer_lib import cli, composition; "
               "from palletizer_lib.registry import Registry; "
               f"assert Registry(Path({str(data)!r})).config.storage_config is not None; "
               "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore')))")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout == "[]\n"
