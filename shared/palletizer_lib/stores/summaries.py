"""One summary per crate, found from any spelling of its name: its stored name and the version search shows.
`SummaryStore` is what the index store needs; `LocalSummaries` keeps one small JSON file per crate under
`names/`, named by the normalised name."""

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from palletizer_lib.disk.files import TEMP_PREFIX, atomic_write, remove_file
from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import StorageError


class SummaryStore(Protocol):
    """Crate summaries by normalised name."""

    def get(self, name: str) -> tuple[str, str] | None:
        """(stored name, shown version) of the crate `name` refers to in any spelling, if any."""

    def put(self, name: str, shown: str) -> bool:
        """Make the summary of `name` say (name, shown); True if it was missing or said something else."""

    def delete(self, name: str) -> bool:
        """Remove the summary of `name` (any spelling); True if there was one."""

    def list(self) -> Iterator[tuple[str, str]]:
        """Every (stored name, shown version), in no particular order."""

    def keys(self) -> Iterator[str]:
        """The normalised name of every summary (a stray one included)."""


class LocalSummaries:
    """Summaries as `names/NORMALISED.json` files."""

    def __init__(self, layout: Layout) -> None:
        self._layout = layout

    def get(self, name: str) -> tuple[str, str] | None:
        try:
            raw = json.loads(self._path(name).read_bytes())
            return raw["name"], raw["max_version"]
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StorageError(f"the summary of crate `{name}` is unreadable: {exc}") from exc

    def put(self, name: str, shown: str) -> bool:
        path = self._path(name)
        try:
            raw = json.loads(path.read_bytes())
            changed = (raw["name"], raw["max_version"]) != (name, shown)
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            changed = True
        atomic_write(path, json.dumps({"name": name, "max_version": shown}).encode())
        return changed

    def delete(self, name: str) -> bool:
        path = self._path(name)
        existed = path.exists()
        remove_file(path)
        return existed

    def list(self) -> Iterator[tuple[str, str]]:
        with os.scandir(self._layout.names) as entries:
            for entry in entries:
                if entry.name.endswith(".json") and not entry.name.startswith(TEMP_PREFIX):
                    raw = json.loads(Path(entry.path).read_bytes())
                    yield raw["name"], raw["max_version"]

    def keys(self) -> Iterator[str]:
        return (path.stem for path in self._layout.names.glob("*.json") if not path.name.startswith(TEMP_PREFIX))

    def _path(self, name: str) -> Path:
        return self._layout.summary_file(name)
