"""Crate summaries under `names/`: found from any spelling, a change told apart from a rewrite."""

from pathlib import Path

import pytest

from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import StorageError
from palletizer_lib.stores.summaries import LocalSummaries


@pytest.fixture
def summaries(tmp_path: Path) -> LocalSummaries:
    (tmp_path / "names").mkdir()
    return LocalSummaries(Layout(tmp_path))


def test_a_summary_is_found_from_any_spelling(summaries: LocalSummaries) -> None:
    assert summaries.put("Foo_Bar", "1.0.0") is True
    assert summaries.get("foo-bar") == summaries.get("FOO_BAR") == ("Foo_Bar", "1.0.0")
    assert summaries.put("Foo_Bar", "1.0.0") is False
    assert summaries.put("Foo_Bar", "1.1.0") is True
    assert list(summaries.list()) == [("Foo_Bar", "1.1.0")] and list(summaries.keys()) == ["foo-bar"]


def test_delete_tells_whether_there_was_one(summaries: LocalSummaries) -> None:
    summaries.put("gone", "0.1.0")
    assert summaries.delete("Gone") is True
    assert summaries.delete("gone") is False
    assert summaries.get("gone") is None and list(summaries.list()) == []


def test_an_unreadable_summary_is_a_storage_error(tmp_path: Path, summaries: LocalSummaries) -> None:
    (tmp_path / "names" / "broken.json").write_text("{not json")
    with pytest.raises(StorageError, match="summary of crate `broken`"):
        summaries.get("broken")
