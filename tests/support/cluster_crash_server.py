"""A cluster node (`palletizer-all` over a bucket and a database) that SIGKILLs itself at one step of its next
publish: `python -m tests.support.cluster_crash_server STEP palletizer-all-options...`. Only the test harness
patches the library this way; the product has no crash hooks."""

import os
import signal
import sys

from palletizer_lib.stores.postgres_index import HeadInDatabase, PgIndexLog
from palletizer_lib.stores.s3 import S3CrateStore
from palletizer_services.all import main

STEPS = ("after-crate-file", "after-commit", "after-index-file")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(step: str) -> None:
    put_crate, commit, put_served = S3CrateStore.put, PgIndexLog.commit, HeadInDatabase.put

    def crate_put(self: S3CrateStore, key: str, data: bytes | memoryview) -> None:
        put_crate(self, key, data)
        if step == "after-crate-file":
            _die()

    def log_commit(self: PgIndexLog, changes: dict[str, bytes | None], message: str) -> bytes:
        position = commit(self, changes, message)
        if step == "after-commit" and message.startswith("Publish "):
            _die()
        return position

    def served_put(self: HeadInDatabase, key: str, data: bytes) -> None:
        put_served(self, key, data)
        if step == "after-index-file" and key != "config.json" and not key.startswith("."):
            _die()

    S3CrateStore.put, PgIndexLog.commit, HeadInDatabase.put = crate_put, log_commit, served_put


if __name__ == "__main__":
    _arm(sys.argv[1])
    sys.exit(main(sys.argv[2:]))
