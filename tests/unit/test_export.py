"""`export_static`: the index and the crate files as plain files, kept in step by exporting again."""

import json
from pathlib import Path

import pytest

from palletizer_lib.admin.export import MANIFEST, export_static
from palletizer_lib.admin.export_state import STATE_FILE
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import BadRequest, Conflict, StorageError
from tests.support.cratekit import make_crate


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in (MANIFEST, STATE_FILE)
    }


@pytest.fixture
def stocked(registry: Registry) -> Registry:
    for name, version in (("foo", "1.0.0"), ("foo", "1.1.0"), ("Bar_x", "0.1.0")):
        registry.add(make_crate(name, version))
    registry.set_yanked("foo", "1.0.0", True)
    return registry


def test_the_export_holds_the_index_and_every_crate_file(stocked: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = export_static(stocked, out, "http://static.test/reg/")
    assert (summary.crates, summary.versions, summary.written, summary.removed) == (2, 3, 7, 0)
    exported = files(out)
    assert json.loads(exported.pop("index/config.json")) == {
        "dl": "http://static.test/reg/crates/{crate}/{crate}-{version}.crate"
    }
    served = {
        f"index/{path}": data
        for path, data in files(stocked.layout.index).items()
        if path not in ("config.json", ".head")
    }
    crates = {f"crates/{path}": data for path, data in files(stocked.layout.crates).items()}
    assert exported == {**served, **crates}
    assert '"yanked":true' in exported["index/3/f/foo"].decode()


def test_exporting_again_writes_only_what_changed(stocked: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_static(stocked, out, "http://static.test", api_url="http://api.test")
    assert json.loads((out / "index" / "config.json").read_text())["api"] == "http://api.test"
    again = export_static(stocked, out, "http://static.test", api_url="http://api.test")
    assert (again.written, again.removed) == (0, 0)

    stocked.remove("foo", "1.0.0")
    stocked.remove("Bar_x", "0.1.0")
    stocked.add(make_crate("new", "1.0.0"))
    changed = export_static(stocked, out, "http://static.test")
    # config.json, foo's and new's index files, new's crate, the state file
    assert (changed.written, changed.removed) == (5, 3)
    assert sorted(files(out)) == [
        "crates/foo/foo-1.1.0.crate",
        "crates/new/new-1.0.0.crate",
        "index/3/f/foo",
        "index/3/n/new",
        "index/config.json",
    ]
    assert "api" not in json.loads((out / "index" / "config.json").read_text())


def test_a_directory_holding_anything_else_is_refused(stocked: Registry, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "crates").mkdir()
    (busy / "crates" / "precious").write_text("mine")
    with pytest.raises(Conflict, match="neither empty nor an earlier export"):
        export_static(stocked, busy, "http://static.test")
    assert files(busy) == {"crates/precious": b"mine"}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export_static(stocked, empty, "http://static.test").versions == 3


@pytest.mark.parametrize("url", ["static.test", "ftp://static.test", "http://", "http://static.test/?a=b"])
def test_the_base_url_must_be_an_http_url(stocked: Registry, tmp_path: Path, url: str) -> None:
    with pytest.raises(BadRequest, match="--base-url"):
        export_static(stocked, tmp_path / "out", url)
    assert not (tmp_path / "out").exists()


def test_a_crate_file_that_disagrees_with_the_index_stops_the_export(stocked: Registry, tmp_path: Path) -> None:
    stocked.layout.crate_file("foo", "1.1.0").write_bytes(b"tampered")
    with pytest.raises(StorageError, match="foo-1.1.0.crate does not match"):
        export_static(stocked, tmp_path / "out", "http://static.test")
    stocked.layout.crate_file("foo", "1.1.0").unlink()
    with pytest.raises(StorageError, match="foo-1.1.0.crate is missing"):
        export_static(stocked, tmp_path / "out", "http://static.test")


def test_a_file_changed_in_the_export_is_written_again(stocked: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_static(stocked, out, "http://static.test")
    exported = files(out)
    (out / "index" / "3" / "f" / "foo").write_bytes(b"edited by hand, longer than before\n")
    (out / "crates" / "foo" / "foo-1.1.0.crate").write_bytes(b"x")
    again = export_static(stocked, out, "http://static.test")
    assert (again.written, again.removed) == (2, 0)
    assert files(out) == exported


def test_with_the_registry_unchanged_a_deleted_file_comes_back_and_a_stray_one_goes(
    stocked: Registry, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    export_static(stocked, out, "http://static.test")
    exported = files(out)
    (out / "index" / "3" / "f" / "foo").unlink()
    (out / "crates" / "stray").mkdir()
    (out / "crates" / "stray" / "stray-1.0.0.crate").write_bytes(b"not exported")
    again = export_static(stocked, out, "http://static.test")
    assert (again.written, again.removed) == (1, 1)
    assert files(out) == exported


def test_an_export_after_a_change_follows_the_new_commit(stocked: Registry, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export_static(stocked, out, "http://static.test")
    export_static(stocked, out, "http://static.test")
    stocked.set_yanked("foo", "1.0.0", False)
    stocked.remove("Bar_x", "0.1.0")
    again = export_static(stocked, out, "http://static.test")
    assert (again.written, again.removed) == (2, 2)  # foo's index file, the state file
    assert b'"yanked":false' in (out / "index" / "3" / "f" / "foo").read_bytes()
    assert not (out / "crates" / "Bar_x").exists()
    assert json.loads((out / MANIFEST).read_bytes())["head"] == stocked.log.head().decode()
