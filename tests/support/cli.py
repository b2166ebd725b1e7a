"""The `palletizer` command run in this process (`palletizer_lib.admin.cli.main`): its exit status and output.

As the installed command does, less the start of a Python process; tests of the entry point itself, of the
environment, umask or signals run the real command (`tests.support.server.palletizer`)."""

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from palletizer_lib.admin.cli import main


@dataclass(frozen=True)
class Result:
    """What one `palletizer` command did: exit status, standard output, standard error."""

    code: int
    out: str
    err: str


@contextmanager
def _standard_input(data: bytes) -> Iterator[None]:
    """`sys.stdin` reads `data` for the duration."""
    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(data))
    try:
        yield
    finally:
        sys.stdin = saved


def run_cli(data: Path, *args: str, stdin: bytes = b"", check: bool = True) -> Result:
    """Run `palletizer --data DATA ARGS` with `stdin` on standard input; with `check`, fail unless it exits 0."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), _standard_input(stdin):
        try:
            code = main(["--data", str(data), *args])
        except SystemExit as exit_:  # argparse: --help (0) or a usage error (2)
            code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else 1
    result = Result(code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f"palletizer {' '.join(args)} exited {code}: {result.err}")
    return result
