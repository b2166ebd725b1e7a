"""The server's allocator setting takes on this machine's C library."""

from palletizer_services.allocator import give_back_large_blocks


def test_large_blocks_are_given_back() -> None:
    assert give_back_large_blocks() is True
