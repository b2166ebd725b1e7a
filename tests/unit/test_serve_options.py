"""The server's connection and stop options: defaults, environment, and bad values refused in one line."""

import pytest

from palletizer_services import command_line


def test_defaults() -> None:
    args = command_line.parse_args("palletizer-all", [])
    assert (args.max_connections, args.max_connections_per_client, args.shutdown_grace) == (1000, 100, 30.0)
    assert args.workers == 1


def test_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PALLETIZER_MAX_CONNECTIONS", "50")
    monkeypatch.setenv("PALLETIZER_MAX_CONNECTIONS_PER_CLIENT", "7")
    monkeypatch.setenv("PALLETIZER_SHUTDOWN_GRACE", "2.5")
    monkeypatch.setenv("PALLETIZER_WORKERS", "3")
    args = command_line.parse_args("palletizer-all", [])
    assert (args.max_connections, args.max_connections_per_client, args.shutdown_grace) == (50, 7, 2.5)
    assert args.workers == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["--max-connections", "0"],
        ["--max-connections", "-3"],
        ["--max-connections-per-client", "many"],
        ["--shutdown-grace", "-1"],
        ["--shutdown-grace", "nan"],
        ["--shutdown-grace", "1e9"],
        ["--workers", "0"],
        ["--workers", "two"],
    ],
)
def test_bad_values_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        command_line.parse_args("palletizer-all", argv)
    assert exited.value.code == 2
    assert "expected" in capsys.readouterr().err


def test_the_connection_limit_fits_the_open_file_limit() -> None:
    assert 1 <= command_line.connection_limit(10**9, tls=True) < 10**9
    assert command_line.connection_limit(5, tls=False) == 5
