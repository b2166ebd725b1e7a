"""The progress bar: drawn in place on a terminal, silent anywhere else."""

import io

import pytest

from palletizer_lib.domain import progress
from palletizer_lib.domain.progress import ProgressBar


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_nothing_is_written_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with ProgressBar(stream) as bar:
        for done in range(1, 4):
            bar("working", done, 3)
    assert stream.getvalue() == ""


def test_the_bar_is_redrawn_in_place_then_erased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "REDRAW_EVERY", 0)
    stream = Terminal()
    with ProgressBar(stream) as bar:
        bar("working", 1, 4)
        bar("working", 4, 4)
    drawn = stream.getvalue().split("\r\x1b[K")
    assert drawn == ["", f"working [{'#' * 7}{' ' * 23}] 1/4", f"working [{'#' * 30}] 4/4", ""]


def test_redraws_are_throttled_but_the_last_step_and_a_new_label_always_show() -> None:
    stream = Terminal()
    bar = ProgressBar(stream)
    for done in range(1, 1001):
        bar("reading", done, 1000)
    bar("importing", 1, 5)
    frames = [frame for frame in stream.getvalue().split("\r\x1b[K") if frame]
    assert len(frames) < 100
    assert frames[-2].endswith("] 1000/1000") and frames[-1].startswith("importing [")


def test_a_printed_line_does_not_mix_with_the_bar(capsys: pytest.CaptureFixture[str]) -> None:
    stream = Terminal()
    bar = ProgressBar(stream)
    bar("adding", 1, 2)
    bar.line("added foo 1.0.0")
    assert capsys.readouterr().out == "added foo 1.0.0\n"
    assert stream.getvalue().endswith("\r\x1b[Kadding [" + "#" * 15 + " " * 15 + "] 1/2")
    assert stream.getvalue().count("adding [") == 2  # erased for the line, then drawn again
