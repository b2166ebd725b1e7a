"""The `database` setting: a PostgreSQL URL in config.yaml or from `palletizer init --database`, checked; and
the default registry never loads the PostgreSQL client."""

import subprocess
import sys
from pathlib import Path

import pytest

from palletizer_lib.domain.errors import BadRequest
from palletizer_lib.settings.config import RegistryConfig, validate_database
from tests.support.cli import run_cli
from tests.support.server import free_port


@pytest.mark.parametrize("url", ["postgresql://palletizer@db.internal:5432/registry", "postgres://db/registry"])
def test_postgresql_urls_are_accepted(url: str) -> None:
    assert validate_database(url) == url


@pytest.mark.parametrize(
    "url", ["mysql://db/registry", "db.internal:5432", "", "postgresql://db:port/x", "postgresql://db/a b", 5432]
)
def test_other_urls_are_refused(url: object) -> None:
    with pytest.raises(BadRequest, match="PostgreSQL URL|database URL"):
        validate_database(url)


def test_a_url_refused_is_not_echoed_with_its_password() -> None:
    with pytest.raises(BadRequest) as error:
        validate_database("mysql://admin:s3cret@db/registry")
    assert "s3cret" not in error.value.detail


def test_init_refuses_a_database_it_cannot_reach_and_load_checks_the_setting(tmp_path: Path) -> None:
    url = f"postgresql://palletizer:s3cret@127.0.0.1:{free_port()}/registry"
    unreachable = run_cli(tmp_path / "data", "init", "--database", url, check=False)
    assert unreachable.code != 0 and len(unreachable.err.strip().splitlines()) == 1
    assert "PostgreSQL at 127.0.0.1:" in unreachable.err and "s3cret" not in unreachable.err
    assert not (tmp_path / "data").exists()
    refused = run_cli(tmp_path / "other", "init", "--database", "sqlite:///x", check=False)
    assert refused.code != 0 and "PostgreSQL URL" in refused.err
    assert not (tmp_path / "other" / "config.yaml").exists()
    (tmp_path / "config.yaml").write_text("database: http://db/\n")
    with pytest.raises(BadRequest, match="config.yaml: the database must be a PostgreSQL URL"):
        RegistryConfig.load(tmp_path / "config.yaml")


def test_a_default_registry_is_set_up_and_served_without_the_postgresql_or_s3_client(tmp_path: Path) -> None:
    config = _initialised(tmp_path)
    assert RegistryConfig.load(config).database is None
    script = (
        "import sys\nfrom palletizer_lib.core.composition import open_site\nfrom palletizer_lib.admin.cli import main\n"
        "from palletizer_services import all as all_services\n"
        f"all_services.create(open_site({str(config.parent)!r}))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'boto3', 'botocore')))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], check=True, timeout=60, capture_output=True, text=True)
    assert result.stdout == "[]\n"


def _initialised(tmp_path: Path) -> Path:
    run_cli(tmp_path / "data", "init")
    return tmp_path / "data" / "config.yaml"
