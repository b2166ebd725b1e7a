"""The `palletizer` command on a data directory: in this process, and as the installed command where the
environment, the umask or a never-ended standard input matter."""

import json
import os
import random
import stat
import subprocess
from pathlib import Path

import pytest

from palletizer_lib.core.registry import Registry
from palletizer_lib.disk.layout import Layout
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from tests.support.cli import Result, run_cli
from tests.support.cratekit import make_crate
from tests.support.server import BIN, free_port


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory initialised by `palletizer init`."""
    path = tmp_path / "data"
    result = run_cli(path, "init")
    assert "initialised an empty registry" in result.err
    return path


def crate_file(tmp_path: Path, name: str, version: str, manifest_extra: str = "") -> str:
    """Write a .crate made by cratekit to `tmp_path` and return its path."""
    path = tmp_path / f"{name}-{version}.crate"
    path.write_bytes(make_crate(name, version, manifest_extra))
    return str(path)


def fails(data: Path, *args: str) -> str:
    """Run a command that must fail; return its one-line error."""
    result = run_cli(data, *args, check=False)
    assert result.code != 0
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("palletizer: error: ")
    return lines[0]


def run_without_data_option(cwd: Path, env_data: str | None, *args: str) -> Result:
    """Run the installed `palletizer ARGS` in `cwd` with no --data, $PALLETIZER_DATA set to `env_data` (or unset)."""
    env = {k: v for k, v in os.environ.items() if k != "PALLETIZER_DATA"}
    if env_data is not None:
        env["PALLETIZER_DATA"] = env_data
    done = subprocess.run(
        [str(BIN / "palletizer"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


def test_init_creates_an_empty_registry(data: Path) -> None:
    registry = Registry(data)
    assert registry.config == RegistryConfig()
    assert list(registry.summaries()) == []
    assert registry.verify() == []
    assert run_cli(data, "list").out == ""


def test_init_options_go_to_the_config(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli(
        data,
        "init",
        "--public-url",
        "http://reg.test:8000",
        "--allowed-registry",
        "https://a.example/index",
        "--allowed-registry",
        "https://b.example/index",
        "--no-crates-io",
        "--max-crate-size",
        "12345",
    )
    registry = Registry(data)
    assert registry.config == RegistryConfig(
        public_url="http://reg.test:8000",
        max_crate_size=12345,
        allow_crates_io=False,
        allowed_registries=["https://a.example/index", "https://b.example/index"],
    )
    assert registry.own_index_urls() == ["sparse+http://reg.test:8000/index/", "http://reg.test:8000/git/index"]


def test_init_takes_the_api_and_files_urls(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run_cli(
        data,
        "init",
        "--public-url",
        "http://reg.test:8000",
        "--api-url",
        "http://reg.test:8001",
        "--files-url",
        "http://reg.test:8002",
    )
    registry = Registry(data)
    assert registry.config == RegistryConfig(
        public_url="http://reg.test:8000", api_url="http://reg.test:8001", files_url="http://reg.test:8002"
    )
    assert json.loads(registry.log.read("config.json")) == {
        "dl": "http://reg.test:8002/files/{crate}/{crate}-{version}.crate",
        "api": "http://reg.test:8001",
        "public-url": "http://reg.test:8000",
    }


def test_init_of_an_existing_registry_fails_unless_exist_ok(data: Path) -> None:
    before = (data / "config.yaml").read_bytes()
    assert "already holds a registry" in fails(data, "init", "--max-crate-size", "1")
    result = run_cli(data, "init", "--exist-ok", "--max-crate-size", "1")
    assert (result.out, result.err) == ("", "")
    assert (data / "config.yaml").read_bytes() == before
    fresh = data.parent / "fresh"
    assert run_cli(fresh, "init", "--exist-ok").err.startswith("initialised an empty registry")
    assert Registry(fresh).verify() == []


def test_add_then_list(data: Path, tmp_path: Path) -> None:
    files = [
        crate_file(tmp_path, "foo", "1.0.0"),
        crate_file(tmp_path, "foo", "1.1.0"),
        crate_file(tmp_path, "bar-2d", "0.1.0-rc.1"),
    ]
    result = run_cli(data, "add", *files)
    assert result.out == "added foo 1.0.0\nadded foo 1.1.0\nadded bar-2d 0.1.0-rc.1\n"
    assert run_cli(data, "list").out == "bar-2d 0.1.0-rc.1\nfoo 1.1.0\n"
    assert run_cli(data, "list", "foo").out == "foo 1.0.0\t0 downloads\nfoo 1.1.0\t0 downloads\n"
    assert run_cli(data, "list", "BAR_2D").out == "bar-2d 0.1.0-rc.1\t0 downloads\n"
    assert Registry(data).stored_crate("foo", "1.1.0") == Path(files[1]).read_bytes()


def test_yank_and_unyank_show_in_list(data: Path, tmp_path: Path) -> None:
    run_cli(data, "add", crate_file(tmp_path, "foo", "1.0.0"), crate_file(tmp_path, "foo", "1.1.0"))
    assert run_cli(data, "yank", "foo", "1.1.0").out == "yanked foo 1.1.0\n"
    assert run_cli(data, "list", "foo").out == "foo 1.0.0\t0 downloads\nfoo 1.1.0 (yanked)\t0 downloads\n"
    assert run_cli(data, "list").out == "foo 1.0.0\n"
    assert run_cli(data, "unyank", "foo", "1.1.0").out == "unyanked foo 1.1.0\n"
    assert run_cli(data, "list", "foo").out == "foo 1.0.0\t0 downloads\nfoo 1.1.0\t0 downloads\n"
    assert run_cli(data, "list").out == "foo 1.1.0\n"


def test_list_of_a_crate_shows_the_downloads_of_each_version(data: Path, tmp_path: Path) -> None:
    run_cli(data, "add", crate_file(tmp_path, "foo", "1.0.0"), crate_file(tmp_path, "foo", "1.1.0"))
    catalog = Catalog(Layout(data).catalog)
    for _ in range(3):
        catalog.count_download("foo", "1.1.0")
    catalog.count_download("Foo", "1.0.0")
    assert run_cli(data, "list", "foo").out == "foo 1.0.0\t1 download\nfoo 1.1.0\t3 downloads\n"


def test_remove(data: Path, tmp_path: Path) -> None:
    run_cli(data, "add", crate_file(tmp_path, "foo", "1.0.0"), crate_file(tmp_path, "foo", "1.1.0"))
    assert run_cli(data, "remove", "foo", "1.0.0").out == "removed foo 1.0.0\n"
    assert run_cli(data, "list", "foo").out == "foo 1.1.0\t0 downloads\n"
    assert not (data / "crates" / "foo" / "foo-1.0.0.crate").exists()
    run_cli(data, "remove", "foo", "1.1.0")
    assert run_cli(data, "list").out == ""
    assert "`foo` does not exist" in fails(data, "list", "foo")


def test_yank_unyank_and_remove_are_audited_under_the_stored_name(data: Path, tmp_path: Path) -> None:
    """As the web API records them: `Foo_Bar` typed for the crate `foo-bar` is recorded as `foo-bar`, and the
    removed version's catalog row goes with it."""
    run_cli(data, "add", crate_file(tmp_path, "foo-bar", "1.0.0"), crate_file(tmp_path, "foo-bar", "1.1.0"))
    for command in ("yank", "unyank", "remove"):
        run_cli(data, command, "Foo_Bar", "1.0.0")
    entries = Accounts(Layout(data).accounts).audit()
    assert [(e.action, e.crate, e.version, e.address) for e in entries[2:]] == [
        ("yank", "foo-bar", "1.0.0", "local"),
        ("unyank", "foo-bar", "1.0.0", "local"),
        ("remove", "foo-bar", "1.0.0", "local"),
    ]
    assert list(Catalog(Layout(data).catalog).versions("foo-bar")) == ["1.1.0"]


def test_verify_passes_then_reports_a_corrupted_crate_file(data: Path, tmp_path: Path) -> None:
    run_cli(data, "add", crate_file(tmp_path, "foo", "1.0.0"), crate_file(tmp_path, "bar", "2.0.0"))
    good = run_cli(data, "verify")
    assert good.code == 0
    assert good.out == ""
    assert "consistent" in good.err

    (data / "crates" / "foo" / "foo-1.0.0.crate").write_bytes(b"corrupted")
    bad = run_cli(data, "verify", check=False)
    assert bad.code == 1
    assert bad.out == "foo 1.0.0: the crate file's checksum does not match the index\n"
    assert "1 problem(s) found" in bad.err


def test_verify_names_an_orphan_file(data: Path, tmp_path: Path) -> None:
    run_cli(data, "add", crate_file(tmp_path, "foo", "1.0.0"))
    (data / "crates" / "foo" / "foo-0.0.1.crate").write_bytes(b"")
    bad = run_cli(data, "verify", check=False)
    assert bad.code == 1
    assert bad.out == "crates/foo/foo-0.0.1.crate: no index entry refers to it\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("list", "nope"), "crate `nope` does not exist"),
        (("yank", "nope", "1.0.0"), "crate `nope` does not exist"),
        (("unyank", "nope", "1.0.0"), "crate `nope` does not exist"),
        (("remove", "nope", "1.0.0"), "crate `nope` does not exist"),
        (("yank", "foo", "9.9.9"), "crate `foo` has no version 9.9.9"),
        (("remove", "foo", "not-a-version"), "invalid version `not-a-version`"),
        (("add", "/nonexistent/dir/foo-1.0.0.crate"), "cannot read /nonexistent/dir/foo-1.0.0.crate"),
    ],
)
def test_errors_are_one_line(data: Path, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    run_cli(data, "add", crate_file(tmp_path, "foo", "1.0.0"))
    assert message in fails(data, *args)


def test_add_of_a_non_gzip_file(data: Path, tmp_path: Path) -> None:
    text = tmp_path / "notes.crate"
    text.write_text("just some text\n")
    assert "not gzip-compressed" in fails(data, "add", str(text))
    assert run_cli(data, "list").out == ""


def test_add_of_a_directory(data: Path, tmp_path: Path) -> None:
    assert "cannot read" in fails(data, "add", str(tmp_path))


def test_add_of_a_crate_with_a_malformed_manifest(data: Path, tmp_path: Path) -> None:
    bad = crate_file(tmp_path, "foo", "1.0.0", '[dependencies.bar]\nversion = "1"\nregistry-index = 5\n')
    assert "registry-index" in fails(data, "add", bad)


def test_add_of_an_existing_version(data: Path, tmp_path: Path) -> None:
    file = crate_file(tmp_path, "foo", "1.0.0")
    run_cli(data, "add", file)
    again = run_cli(data, "add", file)
    assert "already present, nothing to do" in again.err and again.out == ""
    other = tmp_path / "other.crate"
    other.write_bytes(make_crate("foo", "1.0.0", 'description = "other bytes"\n'))
    assert "already published" in fails(data, "add", str(other))


def test_add_reads_a_crate_from_standard_input(data: Path) -> None:
    crate = make_crate("piped", "1.0.0")
    added = run_cli(data, "add", "-", stdin=crate, check=False)
    assert added.code == 0 and added.out == "added piped 1.0.0\n", added.err
    assert (Layout(data).crate_file("piped", "1.0.0")).read_bytes() == crate
    assert Registry(data).verify() == []


@pytest.mark.slow
def test_add_from_standard_input_stops_reading_past_the_size_limit(data: Path) -> None:
    """The input is never ended: the command refuses it once it has read one byte past the limit."""
    config = data / "config.yaml"
    config.write_text(config.read_text().replace("max_crate_size: 10485760", "max_crate_size: 1000"))
    crate = make_crate("big", "1.0.0", "", {"src/lib.rs": random.Random(0).randbytes(4000)})
    process = subprocess.Popen(
        [str(BIN / "palletizer"), "--data", str(data), "add", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        process.stdin.write(crate)
        process.stdin.flush()
        assert process.wait(timeout=120) != 0
        stderr = process.stderr.read()
    finally:
        process.kill()
        process.stdin.close()
    assert b"max_crate_size" in stderr and len(stderr.splitlines()) == 1, stderr
    assert run_cli(data, "list").out == ""


def test_an_init_that_fails_half_way_leaves_nothing_behind(tmp_path: Path) -> None:
    """A database nobody answers at (a free loopback port) fails `init` after the git index and directories
    are made: a new data directory is gone again, an existing one is as it was, and `init` then works."""
    unreachable = f"postgresql://palletizer@127.0.0.1:{free_port()}/registry"
    new = tmp_path / "new" / "data"
    assert "connection failed" in fails(new, "init", "--database", unreachable)
    assert not (tmp_path / "new").exists()
    volume = tmp_path / "volume"
    volume.mkdir(mode=0o755)
    (volume / "keep").write_text("kept\n")
    before = (sorted(os.listdir(volume)), stat.S_IMODE(volume.stat().st_mode))
    assert "connection failed" in fails(volume, "init", "--database", unreachable)
    assert (sorted(os.listdir(volume)), stat.S_IMODE(volume.stat().st_mode)) == before
    run_cli(volume, "init")
    assert Registry(volume).verify() == []


def test_an_init_whose_upstream_credentials_cannot_be_kept_leaves_no_registry(tmp_path: Path) -> None:
    volume = tmp_path / "volume"
    (volume / "upstream-credentials").mkdir(parents=True)
    assert "could not write" in fails(volume, "init", "--upstream", "sparse+http://mirror:s3cret@127.0.0.1:9/index/")
    assert sorted(os.listdir(volume)) == ["upstream-credentials"]
    (volume / "upstream-credentials").rmdir()
    run_cli(volume, "init", "--upstream", "sparse+http://mirror:s3cret@127.0.0.1:9/index/")
    assert (volume / "upstream-credentials").read_text() == "mirror:s3cret\n"
    assert "s3cret" not in (volume / "config.yaml").read_text()


def test_init_twice_is_an_error(data: Path) -> None:
    assert "already holds a registry" in fails(data, "init")
    assert Registry(data).verify() == []


@pytest.mark.slow
def test_init_keeps_the_data_directory_private_whatever_the_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    subprocess.run(
        [str(BIN / "palletizer"), "--data", str(data), "init"],
        preexec_fn=lambda: os.umask(0),
        capture_output=True,
        timeout=60,
        check=True,
    )
    private = ["accounts.sqlite3", "catalog.sqlite3", "config.yaml"]
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert {name: stat.S_IMODE((data / name).stat().st_mode) for name in private} == dict.fromkeys(private, 0o600)
    run_cli(data, "user", "add", "alice")  # SQLite's side files come later, in the 0700 directory
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert run_cli(data, "verify").err == "verify: the registry is consistent\n"

    data.chmod(0o755)
    (data / "accounts.sqlite3").chmod(0o644)
    result = run_cli(data, "verify")
    assert result.code == 0
    assert result.err.splitlines() == [
        f"verify: warning: {data} is readable or writable by other users (mode 755): `chmod 700 {data}`",
        f"verify: warning: {data / 'accounts.sqlite3'} is readable or writable by other users (mode 644): "
        f"`chmod 600 {data / 'accounts.sqlite3'}`",
        "verify: the registry is consistent",
    ]


def test_commands_need_a_registry(tmp_path: Path) -> None:
    assert "no registry at" in fails(tmp_path / "missing", "list")


@pytest.mark.parametrize("config", ["max_crate_size: [1\n  x: y\n", "bogus: 1\n", "max_crate_size: -5\n", "- a\n"])
def test_a_broken_config_is_a_one_line_error(data: Path, config: str) -> None:
    (data / "config.yaml").write_text(config)
    assert "config.yaml" in fails(data, "list")


@pytest.mark.parametrize("command", ["list", "verify"])
def test_a_config_nested_100000_deep_is_a_one_line_error(data: Path, command: str) -> None:
    (data / "config.yaml").write_text("allowed_names: " + "[" * 100_000 + "]" * 100_000 + "\n")
    result = run_cli(data, command, check=False)
    assert result.code == 1 and "Traceback" not in result.err
    assert result.err.splitlines() == [
        f"palletizer: error: {data / 'config.yaml'} is not valid YAML: nested deeper than 64 levels (line 1, column 79)"
    ]


def test_a_setting_given_twice_is_a_one_line_error_naming_it(data: Path) -> None:
    config = data / "config.yaml"
    lines = config.read_text().splitlines()
    config.write_text("\n".join(lines + ["max_crate_size: 1000"]) + "\n")
    first = next(i for i, line in enumerate(lines, 1) if line.startswith("max_crate_size:"))
    result = run_cli(data, "list", check=False)
    assert result.code == 1 and "Traceback" not in result.err
    assert result.err.splitlines() == [
        f"palletizer: error: {config} is not valid YAML: the key `max_crate_size` "
        f"is given twice, on lines {first} and {len(lines) + 1}"
    ]


@pytest.mark.slow
def test_data_defaults_to_the_environment(tmp_path: Path) -> None:
    from_env = tmp_path / "from-env"
    init = run_without_data_option(tmp_path, str(from_env), "init")
    assert init.code == 0, init.err
    assert (from_env / "config.yaml").is_file()
    assert not (tmp_path / "data").exists()

    added = run_without_data_option(tmp_path, str(from_env), "add", crate_file(tmp_path, "foo", "1.0.0"))
    assert added.out == "added foo 1.0.0\n"
    assert run_without_data_option(tmp_path, str(from_env), "list").out == "foo 1.0.0\n"
    assert run_cli(from_env, "list").out == "foo 1.0.0\n"


@pytest.mark.slow
def test_data_defaults_to_dot_data_without_the_environment(tmp_path: Path) -> None:
    for env_data in (None, ""):
        result = run_without_data_option(tmp_path, env_data, "list")
        assert result.code == 1
        assert "no registry at data" in result.err
    assert run_without_data_option(tmp_path, None, "init").code == 0
    assert (tmp_path / "data" / "config.yaml").is_file()


@pytest.mark.slow
def test_the_data_option_wins_over_the_environment(tmp_path: Path) -> None:
    explicit = tmp_path / "explicit"
    result = run_without_data_option(tmp_path, str(tmp_path / "from-env"), "--data", str(explicit), "init")
    assert result.code == 0
    assert (explicit / "config.yaml").is_file()
    assert not (tmp_path / "from-env").exists()


def test_git_squash_leaves_one_commit_holding_the_same_index(data: Path, tmp_path: Path) -> None:
    assert "no commit yet" in run_cli(data, "git", "squash").err
    run_cli(data, "add", crate_file(tmp_path, "foo", "1.0.0"), crate_file(tmp_path, "bar", "2.0.0"))
    registry = Registry(data)
    before = dict(registry.log.files())
    assert registry.log.history_length(10) > 1
    assert "one commit" in run_cli(data, "git", "squash").err
    registry = Registry(data)
    assert registry.log.history_length(10) == 1
    assert dict(registry.log.files()) == before
    assert run_cli(data, "verify").code == 0
    run_cli(data, "add", crate_file(tmp_path, "foo", "1.1.0"))
    assert Registry(data).log.history_length(10) == 2
    assert "1.1.0" in run_cli(data, "list", "foo").out


@pytest.mark.parametrize("value", ["-1", "yes", "1.5"])
def test_git_squash_after_must_be_a_count_of_commits(data: Path, value: str) -> None:
    config = data / "config.yaml"
    config.write_text(config.read_text().replace("git_squash_after: 10000\n", f"git_squash_after: {value}\n"))
    assert "git_squash_after must be a number of commits" in fails(data, "list")
