"""A progress bar for long command-line work, drawn on stderr only when stderr is a terminal."""

import sys
import time
from collections.abc import Callable
from typing import TextIO

# What long library work reports as it goes: (what it is doing, how many done, out of how many).
Progress = Callable[[str, int, int], None]

WIDTH = 30
REDRAW_EVERY = 0.1
_CLEAR_LINE = "\r\x1b[K"


class ProgressBar:
    """`label [#####     ] done/total` redrawn in place on `stream` (default stderr), at most every
    REDRAW_EVERY seconds; nothing at all when the stream is not a terminal (scripts, logs, tests)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._active = self._stream.isatty()
        self._shown = ""
        self._drawn_at = 0.0

    def __call__(self, label: str, done: int, total: int) -> None:
        """Show that `done` of `total` steps of `label` are done."""
        if not self._active:
            return
        now = time.monotonic()
        if now - self._drawn_at < REDRAW_EVERY and done < total and self._shown.startswith(label):
            return
        filled = WIDTH * done // total if total else WIDTH
        self._shown = f"{label} [{'#' * filled}{' ' * (WIDTH - filled)}] {done}/{total}"
        self._drawn_at = now
        self._stream.write(_CLEAR_LINE + self._shown)
        self._stream.flush()

    def line(self, text: str, file: TextIO | None = None) -> None:
        """Print a line (to `file`, default stdout) without mixing it into the bar."""
        if self._shown:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()
        print(text, file=file or sys.stdout, flush=True)
        if self._shown:
            self._stream.write(self._shown)
            self._stream.flush()

    def close(self) -> None:
        """Erase the bar."""
        if self._shown:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()
            self._shown = ""

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
