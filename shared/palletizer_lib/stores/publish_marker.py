"""The crate file a publish is storing, named before it is stored and forgotten once its version is committed,
so that a writer killed in between leaves a key the next writer can check. `LocalPublishMarker` keeps it in the file
`pending` of the data directory."""

from pathlib import Path
from typing import Protocol

from palletizer_lib.disk.files import atomic_write, remove_file
from palletizer_lib.stores.crates import CRATES_PREFIX


class PublishMarker(Protocol):
    """At most one crate store key, durably."""

    def get(self) -> str | None:
        """The key a publish was storing, if any."""

    def set(self, key: str) -> None:
        """Name `key` durably, before its file is stored."""

    def clear(self) -> None:
        """Forget the key."""


class LocalPublishMarker:
    """The marker as a small file (`crates/KEY`)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def get(self) -> str | None:
        try:
            text = self._path.read_text().strip()
        except FileNotFoundError:
            return None
        return text.removeprefix(CRATES_PREFIX) or None

    def set(self, key: str) -> None:
        atomic_write(self._path, (CRATES_PREFIX + key).encode())

    def clear(self) -> None:
        remove_file(self._path)
