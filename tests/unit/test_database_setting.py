"""The `database` setting: a PostgreSQL URL in config.yaml or from `palletizer init --database`, checked; and
the default registry never loads the PostgreSQL client."""

import subprocess
import sys
from pathlib import Path

import pytest

from palletizer_lib.config import RegistryConfig, validate_database
from palletizer_lib.errors import BadRequest
from tests.support.server import palletizer


@pytest.mark.parametrize("url", ["postgresql://palletizer@db.internal:5432/registry", "postgres://db/registry"])
def test_postgresql_urls_are_accepted(url: str) -> None:
    assert validate_database(url) == url


@pytest.mark.parametrize("url", ["mysql://db/registry", "db.internal:5432", "", "postgresql://db:port/x",
                                 "postgresql://db/a b", 5432])
def test_other_urls_are_refused(url: object) -> None:
    with pytest.raises(BadRequest, match="PostgreSQL URL|database URL"):
        validate_database(url)


def test_a_url_refused_is_not_echoed_with_its_password() -> None:
    with pytest.raises(BadRequest) as error:
        validate_database("mysql://admin:s3cret@db/registry")
    assert "s3cret" not in error.value.detail


def test_init_writes_the_setting_and_load_checks_it(tmp_path: Path) -> None:
    url = "postgresql://palletizer@127.0.0.1:5432/registry"
    palletizer(tmp_path / "data", "init", "--database", url)
    assert RegistryConfig.load(tmp_path / "data" / "config.yaml").database == url
    refused = palletizer(tmp_path / "other", "init", "--database", "sqlite:///x", check=False)
    assert refused.returncode != 0 and "PostgreSQL URL" in refused.stderr
    assert not (tmp_path / "other" / "config.yaml").exists()
    (tmp_path / "data" / "config.yaml").write_text("database: http://db/\n")
    with pytest.raises(BadRequest, match="config.yaml: the database must be a PostgreSQL URL"):
        RegistryConfig.load(tmp_path / "data" / "config.yaml")


def test_a_default_registry_is_set_up_without_the_postgresql_client(tmp_path: Path) -> None:
    assert RegistryConfig.load(_initialised(tmp_path)).database is None
    script = ("import sys\nfrom palletizer_lib.composition import *\nfrom palletizer_lib.cli import main\n"
              "from palletizer_lib.pg_stores import open_pg_stores\n"
              "assert 'psycopg' not in sys.modules, 'psycopg was imported'\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def _initialised(tmp_path: Path) -> Path:
    palletizer(tmp_path / "data", "init")
    return tmp_path / "data" / "config.yaml"
