"""Serving with several processes (`--workers N`): pre-forked workers sharing the listening sockets.

The parent has bound every listener (plain, TLS and unix) before forking; each worker inherits the sockets
and runs its own server on them (its own app, caches, threads, and for TLS its own relay thread), and the
kernel hands each new connection to whichever worker accepts it first. The parent only supervises: a worker
that dies is replaced, SIGTERM or SIGINT is passed on to every worker (each drains its requests in flight
within the shutdown grace), and the parent returns once all have exited.
"""

import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
WATCHED = {signal.SIGCHLD, *STOP_SIGNALS}
# A worker that cannot build its app exits with this: the parent then stops rather than replace it forever.
START_FAILED = 3
# After the grace period and the workers' own wait for their threads, how long a stop waits before it kills.
STOP_MARGIN = 15.0

logger = logging.getLogger("palletizer.workers")


class Supervisor:
    """Runs `count` workers, each `work()` in a forked process, until SIGTERM or SIGINT."""

    def __init__(self, count: int, work: Callable[[], None], sockets: Sequence[socket.socket], grace: float) -> None:
        self.count = count
        self.work = work
        self.sockets = sockets
        self.grace = grace
        self.pids: dict[int, int] = {}
        self.failed = False

    def run(self) -> int:
        """Start the workers, replace any that dies, stop them all on a stop signal; 0 if all stopped cleanly."""
        if threading.active_count() > 1:
            raise RuntimeError("threads started before forking the workers would be missing from them")
        signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
        for slot in range(self.count):
            self._start(slot)
        stopping = None
        while self.pids:
            self._reap(replace=stopping is None)
            if not self.pids:
                break
            if self.failed and stopping is None:
                stopping = self._stop(signal.SIGTERM)
            timeout = None if stopping is None else stopping - time.monotonic()
            if timeout is not None and timeout <= 0:
                self._kill_remaining()
                continue
            info = signal.sigtimedwait(WATCHED, timeout) if timeout is not None else signal.sigwaitinfo(WATCHED)
            if info is not None and info.si_signo in STOP_SIGNALS and stopping is None:
                stopping = self._stop(info.si_signo)
        logger.warning("all workers stopped")
        return 1 if self.failed else 0

    def _start(self, slot: int) -> None:
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            os._exit(self._worker(parent))
        self.pids[pid] = slot
        logger.info("worker %d started (pid %d)", slot, pid)

    def _worker(self, parent: int) -> int:
        """In the forked process: end with the parent, serve. A stop signal before the server has set its own
        handlers (it has not begun serving) ends the worker at once, cleanly."""
        code = 0
        try:
            for signum in STOP_SIGNALS:
                signal.signal(signum, _exit_before_serving)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)
            if sys.platform.startswith("linux"):
                ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
            if os.getppid() != parent:
                return 0
            self.work()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            logger.exception("worker %d failed", os.getpid())
            code = 1
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
        return code

    def _reap(self, replace: bool) -> None:
        """Collect every worker that exited; while serving, start another in its place."""
        while self.pids:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            slot = self.pids.pop(pid, None)
            if slot is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            if replace and code != START_FAILED:
                logger.error("worker %d (pid %d) %s; starting another", slot, pid, how)
                self._start(slot)
            elif code != 0:
                logger.error("worker %d (pid %d) %s", slot, pid, how)
                self.failed = True

    def _stop(self, signum: int) -> float:
        """Pass `signum` on to every worker and close the parent's copies of the listening sockets (so
        that they close once every worker has closed its own); return the deadline of the stop."""
        logger.warning("stopping %d worker(s)", len(self.pids))
        for pid in self.pids:
            os.kill(pid, signum)
        for sock in self.sockets:
            sock.close()
        return time.monotonic() + self.grace + STOP_MARGIN

    def _kill_remaining(self) -> None:
        for pid in self.pids:
            logger.error("worker pid %d did not stop in time: killed", pid)
            os.kill(pid, signal.SIGKILL)
        self.failed = True
        for pid in list(self.pids):
            os.waitpid(pid, 0)
            self.pids.pop(pid)


def _exit_before_serving(signum: int, frame: object) -> None:
    raise SystemExit(0)
