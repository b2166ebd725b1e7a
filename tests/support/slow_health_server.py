"""`palletizer-all`, except that its first `/health` answer is held until a second `/health` request comes:
a server too busy to answer a readiness probe in time, for as long as that probe waits.

`python -m tests.support.slow_health_server palletizer-all-options...`. Only the test harness patches the
services this way."""

import sys
import threading

from palletizer_services import base_app
from palletizer_services.all import main
from tests.support.readiness import READY_SECONDS

SECOND_REQUEST = threading.Event()


def _hold_the_first() -> None:
    answer = base_app.HealthResource.on_get
    first = threading.Lock()

    def on_get(self: base_app.HealthResource, *args: object) -> None:
        if first.acquire(blocking=False):
            SECOND_REQUEST.wait(READY_SECONDS)
        else:
            SECOND_REQUEST.set()
        answer(self, *args)

    base_app.HealthResource.on_get = on_get


if __name__ == "__main__":
    _hold_the_first()
    sys.exit(main(sys.argv[1:]))
