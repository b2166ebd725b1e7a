"""A real S3 for the tests: one throwaway Ceph cluster (radosgw on a free loopback port) per test session,
started by `/work/shared/tools/ceph-s3` (root), and a fresh bucket per test."""

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from palletizer_lib.settings.storage import StorageConfig

CEPH_S3 = Path(os.environ.get("CEPH_S3", "/work/shared/tools/ceph-s3"))
START_TIMEOUT = 120


@dataclass(frozen=True)
class CephS3:
    """A running radosgw: where it listens and the test user's keys."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str

    def config(self, bucket: str, prefix: str = "") -> StorageConfig:
        """The storage configuration of `bucket` (under `prefix`) on this gateway."""
        return StorageConfig(bucket=bucket, endpoint=self.endpoint, region=self.region, prefix=prefix)


def free_port_pair() -> int:
    """A port that is free, and the one after it too (ceph-s3 puts its monitor there)."""
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port


@contextmanager
def running_ceph(directory: Path) -> Iterator[CephS3]:
    """A Ceph cluster serving S3, its files in `directory`, wiped at the end (RuntimeError if it does not
    start)."""
    started = subprocess.run(
        ["bash", str(CEPH_S3), "start", str(directory), str(free_port_pair())],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )
    try:
        if started.returncode != 0:
            raise RuntimeError(f"ceph-s3 did not start:\n{started.stderr}")
        values = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
        yield CephS3(values["S3_ENDPOINT"], values["S3_ACCESS_KEY"], values["S3_SECRET_KEY"], values["S3_REGION"])
    finally:
        subprocess.run(["bash", str(CEPH_S3), "wipe", str(directory)], capture_output=True, timeout=START_TIMEOUT)


def credentials_environment(ceph: CephS3, scratch: Path) -> dict[str, str | None]:
    """The environment that gives the gateway's keys, in the standard AWS variables, and no other source of
    credentials or settings (no ~/.aws files, no instance metadata); None for a variable to remove."""
    return {
        "AWS_ACCESS_KEY_ID": ceph.access_key,
        "AWS_SECRET_ACCESS_KEY": ceph.secret_key,
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_CONFIG_FILE": str(scratch / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="session")
def ceph_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CephS3]:
    """One Ceph cluster serving S3 for the whole session, wiped at the end."""
    with running_ceph(tmp_path_factory.mktemp("ceph-s3")) as ceph:
        yield ceph


@pytest.fixture
def s3_credentials(ceph_s3: CephS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CephS3:
    """The gateway's keys in the standard AWS environment, and nothing else the AWS client would read."""
    for name, value in credentials_environment(ceph_s3, tmp_path).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return ceph_s3


@pytest.fixture
def s3_bucket(s3_credentials: CephS3) -> str:
    """A fresh, empty bucket on the gateway (its name)."""
    name = f"t-{uuid.uuid4().hex[:20]}"
    s3_admin(s3_credentials).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_config(s3_credentials: CephS3, s3_bucket: str) -> StorageConfig:
    """The storage configuration of a fresh bucket, under a prefix (credentials in the environment)."""
    return s3_credentials.config(s3_bucket, prefix="reg/")


def s3_admin(ceph: CephS3) -> Any:
    """A boto3 client with the gateway's keys, for what the tests set up or look at behind the stores."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=ceph.endpoint,
        region_name=ceph.region,
        aws_access_key_id=ceph.access_key,
        aws_secret_access_key=ceph.secret_key,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", connect_timeout=5, read_timeout=30),
    )
