"""The git upload-pack deadline is checked while dulwich negotiates and builds the pack, on a clock of the
test's own (so nothing depends on how fast the machine is)."""

import itertools
from pathlib import Path

import pytest
from dulwich.protocol import pkt_line

from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import BadRequest
from palletizer_lib.settings.config import RegistryConfig
from palletizer_services.index.git import Deadline, bounded_request, read_request, upload_pack
from tests.support.publishing import publish


def _registry(tmp_path: Path) -> tuple[str, bytes]:
    registry = Registry.create(tmp_path / "data", RegistryConfig())
    publish(registry, "timed", "1.0.0")
    head = (registry.layout.git / "refs" / "heads" / "main").read_bytes().strip()
    return str(registry.layout.git), head


def _clone_request(head: bytes) -> bytes:
    return (
        pkt_line(b"want " + head + b" multi_ack_detailed side-band-64k thin-pack ofs-delta\n")
        + pkt_line(None)
        + pkt_line(b"done\n")
    )


class Ticks:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.reads = itertools.count()

    def __call__(self) -> float:
        return float(next(self.reads))


def test_a_request_within_its_time_gets_its_pack(tmp_path: Path) -> None:
    git_dir, head = _registry(tmp_path)
    with upload_pack(git_dir, _clone_request(head), False, Deadline(10, clock=lambda: 0.0)) as out:
        assert b"PACK" in out.read()


@pytest.mark.parametrize("seconds", [1, 3, 6])
def test_a_request_past_its_time_is_stopped_with_a_reason(tmp_path: Path, seconds: int) -> None:
    git_dir, head = _registry(tmp_path)
    clock = Ticks()
    with pytest.raises(BadRequest, match=f"took more than {seconds} s and was stopped"):
        upload_pack(git_dir, _clone_request(head), False, Deadline(seconds, clock=clock))
    assert next(clock.reads) == seconds + 2  # stopped at the first check past the deadline


def test_reading_and_checking_a_long_request_look_at_the_clock(tmp_path: Path) -> None:
    _, head = _registry(tmp_path)
    lines = pkt_line(b"want " + head + b"\n") + pkt_line(None) * 20_000
    with pytest.raises(BadRequest, match="took more than"):
        bounded_request(lines, Deadline(5, clock=Ticks()))

    class Body:
        def read(self, size: int = -1) -> bytes:
            return b"0" * size

    with pytest.raises(BadRequest, match="took more than"):
        read_request(Body(), False, Deadline(5, clock=Ticks()))
