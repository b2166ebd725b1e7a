"""Fixtures of the tests over real cluster components (`make test-cluster`)."""

from tests.support.ceph import ceph_s3, s3_bucket, s3_config, s3_credentials  # noqa: F401
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401
