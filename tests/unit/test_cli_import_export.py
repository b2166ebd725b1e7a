"""`palletizer import` and `export` as commands, and the progress bar of long commands."""

import json
import os
import resource
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.cratekit import make_crate
from tests.support.server import BIN
from tests.support.terminal import run_on_terminal


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    run_cli(path, "init", "--public-url", "http://registry.test")
    return path


def vendor(tmp_path: Path) -> Path:
    """A directory with two good crates (one depending on the other) and an unreadable one."""
    source = tmp_path / "vendor"
    (source / "nested").mkdir(parents=True)
    (source / "nested" / "top-1.0.0.crate").write_bytes(
        make_crate(
            "top",
            "1.0.0",
            '\n[dependencies.base]\nversion = "1"\nregistry-index = "sparse+http://registry.test/index/"\n',
        )
    )
    (source / "base-1.0.0.crate").write_bytes(make_crate("base", "1.0.0"))
    (source / "junk.crate").write_bytes(b"junk")
    return source


def test_import_prints_each_file_and_the_totals(data: Path, tmp_path: Path) -> None:
    source = vendor(tmp_path)
    result = run_cli(data, "import", str(source), check=False)
    assert result.code == 1, result.err  # junk.crate was refused
    lines = result.out.splitlines()
    assert lines[0].startswith(f"refused - ({source / 'junk.crate'}): ")
    assert lines[1:] == [
        f"added base 1.0.0 ({source / 'base-1.0.0.crate'})",
        f"added top 1.0.0 ({source / 'nested' / 'top-1.0.0.crate'})",
        "import: 2 added, 0 skipped, 1 refused",
    ]
    assert "\r" not in result.err  # no progress bar: stderr is not a terminal

    (source / "junk.crate").unlink()
    again = run_cli(data, "import", str(source))
    assert again.code == 0
    assert again.out.splitlines()[-1] == "import: 0 added, 2 skipped, 0 refused"
    assert "skipped top 1.0.0" in again.out and "already present with these exact bytes" in again.out
    assert run_cli(data, "list", "top").out == "top 1.0.0\t0 downloads\n"


def test_import_with_an_unknown_owner_fails_before_adding(data: Path, tmp_path: Path) -> None:
    result = run_cli(data, "import", str(vendor(tmp_path)), "--owner", "nobody", check=False)
    assert result.code == 1
    assert result.err.strip() == "palletizer: error: no user `nobody` (create it with `palletizer user add nobody`)"
    assert run_cli(data, "list").out == ""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "label"),
    [
        (["import", "{vendor}"], "importing"),
        (["add", "{vendor}/base-1.0.0.crate", "{vendor}/nested/top-1.0.0.crate"], "adding"),
        (["verify"], "verifying"),
        (["export", "{tmp}/out", "--base-url", "http://static.test"], "exporting crates"),
    ],
)
def test_a_progress_bar_is_drawn_when_stderr_is_a_terminal(
    data: Path, tmp_path: Path, command: list[str], label: str
) -> None:
    source = vendor(tmp_path)
    (source / "junk.crate").unlink()
    if command[0] in ("verify", "export"):
        run_cli(data, "import", str(source))
    args = [part.format(vendor=source, tmp=tmp_path) for part in command]
    status, _, terminal = run_on_terminal([str(BIN / "palletizer"), "--data", str(data), *args])
    assert status == 0
    assert f"\r\x1b[K{label} [".encode() in terminal, terminal
    assert b"] 2/2" in terminal, terminal


def test_export_writes_a_static_registry(data: Path, tmp_path: Path) -> None:
    run_cli(data, "import", str(vendor(tmp_path)), check=False)
    out = tmp_path / "static"
    result = run_cli(
        data, "export", str(out), "--base-url", "https://cdn.example/reg/", "--api-url", "https://registry.example"
    )
    assert "exported 2 crates (2 versions)" in result.err
    assert 'index = "sparse+https://cdn.example/reg/index/"' in result.err
    assert json.loads((out / "index" / "config.json").read_text()) == {
        "dl": "https://cdn.example/reg/crates/{crate}/{crate}-{version}.crate",
        "api": "https://registry.example",
    }
    assert (out / "index" / "3" / "t" / "top").read_bytes() == (data / "index" / "3" / "t" / "top").read_bytes()
    assert (out / "crates" / "top" / "top-1.0.0.crate").read_bytes() == (
        data / "crates" / "top" / "top-1.0.0.crate"
    ).read_bytes()

    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep me")
    refused = run_cli(data, "export", str(tmp_path / "busy"), "--base-url", "http://x.test", check=False)
    assert refused.code == 1 and "neither empty nor an earlier export" in refused.err
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["mine.txt"]


@pytest.mark.parametrize("link", ["crates", "index", "crates/top", "index/3/t", "index/3/t/top", ".palletizer-export"])
def test_export_refuses_a_link_in_its_directory_and_changes_nothing(data: Path, tmp_path: Path, link: str) -> None:
    run_cli(data, "import", str(vendor(tmp_path)), check=False)
    out = tmp_path / "static"
    run_cli(data, "export", str(out), "--base-url", "http://x.test")
    run_cli(data, "remove", "top", "1.0.0")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "precious").write_text("keep me")
    replaced = out / link
    if replaced.is_dir():
        for path in sorted(replaced.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        replaced.rmdir()
        replaced.symlink_to(elsewhere, target_is_directory=True)
    else:
        replaced.unlink()
        replaced.symlink_to(elsewhere / "precious")
    before = {p.relative_to(out): p.lstat().st_mtime_ns for p in out.rglob("*")}

    result = run_cli(data, "export", str(out), "--base-url", "http://x.test", check=False)
    assert result.code == 1 and "Traceback" not in result.err
    assert result.err.splitlines() == [
        f"palletizer: error: {replaced} is a symbolic link: an export writes and "
        f"deletes only files of its own under {out}, never through a link; "
        "remove the link, or export to another directory"
    ]
    assert sorted(p.name for p in elsewhere.iterdir()) == ["precious"]
    assert (elsewhere / "precious").read_text() == "keep me"
    assert {p.relative_to(out): p.lstat().st_mtime_ns for p in out.rglob("*")} == before


def test_import_skips_links_and_says_so(data: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "secret-1.0.0.crate").write_bytes(make_crate("secret", "1.0.0"))
    (outside / "folder" / "hidden-1.0.0.crate").write_bytes(make_crate("hidden", "1.0.0"))
    source = tmp_path / "vendor"
    (source / "own").mkdir(parents=True)
    (source / "own" / "base-1.0.0.crate").write_bytes(make_crate("base", "1.0.0"))
    (source / "secret-1.0.0.crate").symlink_to(outside / "secret-1.0.0.crate")
    (source / "folder").symlink_to(outside / "folder", target_is_directory=True)

    result = run_cli(data, "import", str(source))
    assert result.out.splitlines() == [
        f"skipped - ({source / 'folder'}): a symbolic link, not followed",
        f"skipped - ({source / 'secret-1.0.0.crate'}): a symbolic link, not followed",
        f"added base 1.0.0 ({source / 'own' / 'base-1.0.0.crate'})",
        "import: 1 added, 2 skipped, 0 refused",
    ]
    assert run_cli(data, "list").out == "base 1.0.0\n"


@pytest.mark.slow
def test_import_refuses_a_file_too_large_before_reading_it(data: Path, tmp_path: Path) -> None:
    source = tmp_path / "vendor"
    source.mkdir()
    huge = source / "x.crate"
    huge.touch()
    os.truncate(huge, 3 << 30)  # sparse: no disk used

    def limit_memory() -> None:  # reading the file whole would need 3 GiB
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    result = subprocess.run(
        [str(BIN / "palletizer"), "--data", str(data), "import", str(source)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_memory,
        check=False,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.splitlines() == [
        f"refused - ({huge}): the .crate file is {3 << 30} bytes, more than this registry's limit of "
        f"{10 * 1024 * 1024} bytes (max_crate_size)",
        "import: 0 added, 0 skipped, 1 refused",
    ]


def test_a_refused_registry_names_both_fixes_and_each_fix_works(tmp_path: Path) -> None:
    index = "sparse+http://127.0.0.1:52757/index/"
    source = tmp_path / "vendor"
    source.mkdir()
    (source / "nc-util-1.0.0.crate").write_bytes(make_crate("nc-util", "1.0.0"))
    (source / "nc-app-1.0.0.crate").write_bytes(
        make_crate("nc-app", "1.0.0", f'\n[dependencies.nc-util]\nversion = "1"\nregistry-index = "{index}"\n')
    )
    refusing = tmp_path / "refusing"
    run_cli(refusing, "init", "--public-url", "http://registry.test")

    result = run_cli(refusing, "import", str(source), check=False)
    assert result.code == 1
    refused = next(line for line in result.out.splitlines() if line.startswith("refused"))
    assert refused == (
        f"refused nc-app 1.0.0 ({source / 'nc-app-1.0.0.crate'}): dependency `nc-util` comes from the registry "
        f"{index}, which this registry does not allow. If that is this registry's own index (the crates were "
        "packaged for it), serve this registry at http://127.0.0.1:52757: `palletizer init --public-url "
        "http://127.0.0.1:52757` for a new registry, or `public_url: http://127.0.0.1:52757` in config.yaml and a "
        f"server start for this one. To allow crates from that registry: `palletizer init --allowed-registry "
        f"{index}` for a new registry, or add {index} to `allowed_registries` in config.yaml"
    )

    for fix in (["--public-url", "http://127.0.0.1:52757"], ["--allowed-registry", index]):
        fixed = tmp_path / fix[0].strip("-")
        run_cli(fixed, "init", *fix)
        assert run_cli(fixed, "import", str(source)).out.splitlines()[-1] == "import: 2 added, 0 skipped, 0 refused"
    (refusing / "config.yaml").write_text(
        (refusing / "config.yaml").read_text().replace("allowed_registries: []", f"allowed_registries: ['{index}']")
    )
    assert run_cli(refusing, "import", str(source)).out.splitlines()[-1] == "import: 1 added, 1 skipped, 0 refused"
