"""Work started in several threads at the same moment, for the tests of what happens when it races itself."""

import threading
from collections.abc import Callable


def errors_at_once(work: Callable[[], object], count: int, seconds: float = 60.0) -> list[BaseException]:
    """Run `work` in `count` threads released together (each waits up to `seconds`); what each one raised."""
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds)
    return errors
