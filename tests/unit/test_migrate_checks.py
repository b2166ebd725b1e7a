"""`palletizer migrate` refusing what it cannot do before it reaches any bucket or database: options that
do not go together, a registry already in the layout asked for, a set-aside git index left from an earlier
migration, a source that does not verify, an unreachable target. Each is one line, and changes nothing."""

from pathlib import Path

import yaml

from tests.support.cli import run_cli
from tests.support.cratekit import make_crate
from tests.support.server import free_port

TARGET = [
    "--storage",
    "s3://bucket-name",
    "--s3-endpoint",
    "http://127.0.0.1:1",
    "--database",
    "postgresql://nobody:s3cret@127.0.0.1:1/registry",
]


def files(data: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(data)): path.read_bytes()
        for path in sorted(data.rglob("*"))
        if path.is_file() and ".sqlite3" not in path.name
    }


def refused(data: Path, *args: str) -> str:
    before = files(data)
    result = run_cli(data, "migrate", *args, check=False)
    assert result.code == 1, result.err
    assert len(result.err.strip().splitlines()) == 1 and "s3cret" not in result.err
    assert files(data) == before
    return result.err


def local_registry(data: Path) -> Path:
    run_cli(data, "init")
    crate = data.parent / "one-1.0.0.crate"
    crate.write_bytes(make_crate("one", "1.0.0"))
    run_cli(data, "add", str(crate))
    return data


def test_options_that_do_not_go_together_are_refused(tmp_path: Path) -> None:
    data = local_registry(tmp_path / "data")
    assert "--storage needs --database" in refused(data, "--storage", "s3://bucket-name")
    assert "--local takes no --database" in refused(data, "--local", "--database", "postgresql://h/db")
    assert "not a valid S3 bucket name" in refused(data, "--storage", "s3://B", "--database", "postgresql://h/db")


def test_a_registry_already_in_the_layout_asked_for_is_refused(tmp_path: Path) -> None:
    data = local_registry(tmp_path / "data")
    assert "migrate --storage s3://BUCKET --database URL" in refused(data, "--local")
    config = yaml.safe_load((data / "config.yaml").read_text())
    config.update(storage={"url": "s3://bucket-name", "endpoint": "http://127.0.0.1:1"}, database="postgresql://h/db")
    (data / "config.yaml").write_text(yaml.safe_dump(config))
    assert "`migrate --local` moves" in refused(data, *TARGET)


def test_a_git_index_set_aside_by_an_earlier_migration_is_refused(tmp_path: Path) -> None:
    data = local_registry(tmp_path / "data")
    (data / "index.git.before-migrate").mkdir()
    assert "index.git.before-migrate is left from an earlier migration" in refused(data, *TARGET)


def test_a_source_that_does_not_verify_is_refused(tmp_path: Path) -> None:
    data = local_registry(tmp_path / "data")
    (data / "crates" / "one" / "one-1.0.0.crate").write_bytes(b"not the crate")
    message = refused(data, *TARGET)
    assert "does not verify" in message and "checksum" in message and "verify --repair" in message


def test_an_unreachable_bucket_is_refused(tmp_path: Path) -> None:
    data = local_registry(tmp_path / "data")
    target = [
        "--storage",
        "s3://bucket-name",
        "--s3-endpoint",
        f"http://127.0.0.1:{free_port()}",
        "--s3-region",
        "us-east-1",
        "--database",
        "postgresql://nobody:s3cret@127.0.0.1:1/registry",
    ]
    assert "bucket-name" in refused(data, *target)
