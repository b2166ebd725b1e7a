"""Run a command with its stderr on a pseudo-terminal, as a person at a terminal would see it."""

import os
import pty
import subprocess


def run_on_terminal(command: list[str], timeout: float = 60) -> tuple[int, bytes, bytes]:
    """(exit status, stdout, what the terminal on stderr received) of `command`."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=follower)
    os.close(follower)
    terminal = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal is closed once the process exits
            break
        if not chunk:
            break
        terminal += chunk
    os.close(leader)
    stdout = process.stdout.read()
    process.stdout.close()
    return process.wait(timeout=timeout), stdout, terminal
