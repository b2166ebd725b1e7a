"""`palletizer-all`, except that it SIGKILLs itself at one step of the next publish.

`python -m tests.support.crash_server STEP palletizer-all-options...`: the steps are the moments a
publish can be interrupted, in order. Only the test harness patches the library this way; the
product has no crash hooks.
"""

import os
import signal
import sys
from pathlib import Path

from dulwich.refs import DiskRefsContainer

from palletizer_lib.core.registry import Registry
from palletizer_lib.disk import files as storage
from palletizer_lib.stores import crates as crate_store
from palletizer_lib.stores import publish_marker as pending
from palletizer_lib.stores import served_index, summaries
from palletizer_lib.stores.git_index import GitIndex
from palletizer_services.all import main

STEPS = (
    "after-journal",
    "mid-crate-file",
    "after-crate-file",
    "mid-commit",
    "after-commit",
    "after-index-file",
    "after-summary",
)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(step: str) -> None:
    publishing = False
    store, write, commit, set_ref = (
        Registry._store_new_version,
        storage.atomic_write,
        GitIndex.commit,
        DiskRefsContainer.set_if_equals,
    )

    def store_new_version(self: Registry, *args: object, **kwargs: object) -> None:
        nonlocal publishing
        publishing = True
        store(self, *args, **kwargs)

    def atomic_write(path: Path, data: bytes | memoryview) -> None:
        if publishing and step == "mid-crate-file" and path.suffix == ".crate":
            (path.parent).mkdir(parents=True, exist_ok=True)
            (path.parent / f".tmp-{os.getpid()}").write_bytes(bytes(data)[: len(data) // 2])
            _die()
        write(path, data)
        if not publishing:
            return
        if (
            step == "after-journal"
            and path.name == "pending"
            or step == "after-crate-file"
            and path.suffix == ".crate"
            or step == "after-index-file"
            and "index" in path.parts
            and path.name != ".head"
            or step == "after-summary"
            and path.parent.name == "names"
        ):
            _die()

    def git_commit(self: GitIndex, *args: object, **kwargs: object) -> bytes:
        commit_id = commit(self, *args, **kwargs)
        if publishing and step == "after-commit":
            _die()
        return commit_id

    def set_if_equals(self: DiskRefsContainer, name: bytes, *args: object, **kwargs: object) -> bool:
        if publishing and step == "mid-commit":
            lock = Path(os.fsdecode(self.path)) / os.fsdecode(name + b".lock")
            lock.write_bytes(b"0123")
            _die()
        return set_ref(self, name, *args, **kwargs)

    Registry._store_new_version = store_new_version
    for module in (crate_store, pending, served_index, summaries):
        module.atomic_write = atomic_write
    GitIndex.commit = git_commit
    DiskRefsContainer.set_if_equals = set_if_equals


if __name__ == "__main__":
    _arm(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
