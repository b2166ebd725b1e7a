"""Fixtures of the tests against real backing services (`make test-cluster`)."""

from tests.support.postgres import postgres_server, postgres_url  # noqa: F401
