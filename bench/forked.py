"""An experiment, not a product option: `palletizer-all` served by several processes sharing its listening
sockets, forked once the app is built (as a pre-forking server would), to see whether more processes help.

    python -m bench.forked PROCESSES [palletizer-all options]
"""

import ctypes
import os
import signal
import sys
from collections.abc import Callable

from services import all as palletizer_all
from services import listeners
from services.bodies import BodyPolicy

PR_SET_PDEATHSIG = 1


def main() -> int:
    """Serve in `sys.argv[1]` processes, with the rest of the arguments as palletizer-all's."""
    processes = int(sys.argv[1])
    serve = listeners.serve

    def forked(app: Callable, bound: list[listeners.Bound], limits: listeners.Limits,
               policy: BodyPolicy | None = None, **adjustments: object) -> None:
        for _ in range(processes - 1):
            if os.fork() == 0:
                # a child ends with the process the benchmark started and stops
                ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
                break
        serve(app, bound, limits, policy, **adjustments)

    listeners.serve = forked
    return palletizer_all.main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
