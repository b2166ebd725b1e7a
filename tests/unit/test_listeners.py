"""Reading and checking the server's listeners (palletizer_lib.settings.listeners)."""

from pathlib import Path

import pytest

from palletizer_lib.settings.listeners import (
    ListenerError,
    configured_listeners,
    default_public_url,
    load_listeners,
    parse_address,
)


@pytest.mark.parametrize(
    ("address", "host", "port"),
    [
        ("127.0.0.1:8000", "127.0.0.1", 8000),
        ("0.0.0.0:443", "0.0.0.0", 443),
        ("[::1]:8443", "::1", 8443),
        ("localhost:8000", "localhost", 8000),
        (":8000", "127.0.0.1", 8000),
    ],
)
def test_tcp_addresses(address: str, host: str, port: int) -> None:
    listener = parse_address(address)
    assert (listener.host, listener.port, listener.path) == (host, port, None)


def test_unix_socket_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "server.yaml").write_text("listeners:\n  - address: ./run/p.sock\n  - address: /abs/p.sock\n")
    relative, absolute = load_listeners(tmp_path / "server.yaml")
    assert relative.path == tmp_path / "run" / "p.sock" and relative.host is None
    assert absolute.path == Path("/abs/p.sock")


def test_tls_files_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "server.yaml").write_text(
        "listeners:\n  - address: 127.0.0.1:8443\n    tls: {certificate: c.pem, key: /k/k.pem}\n"
    )
    [listener] = load_listeners(tmp_path / "server.yaml")
    assert listener.tls is not None
    assert (listener.tls.certificate, listener.tls.key) == (tmp_path / "c.pem", Path("/k/k.pem"))
    assert listener.url == "https://127.0.0.1:8443"


@pytest.mark.parametrize(
    ("client", "allowed"),
    [
        ("10.1.2.3", True),
        ("127.0.0.1", False),
        ("fd12::1", True),
        ("::1", False),
        ("localhost", False),
    ],
)
def test_allow_list(tmp_path: Path, client: str, allowed: bool) -> None:
    (tmp_path / "server.yaml").write_text('listeners:\n  - {address: "[::]:8000", allow: [10.0.0.0/8, "fd00::/8"]}\n')
    [listener] = load_listeners(tmp_path / "server.yaml")
    assert listener.allows(client) is allowed


def test_without_allow_every_client_may() -> None:
    assert parse_address("127.0.0.1:8000").allows("203.0.113.9")


def test_listen_is_the_shorthand_for_one_plain_listener() -> None:
    [listener] = configured_listeners(None, "127.0.0.1:9000")
    assert (listener.url, listener.tls, listener.allow) == ("http://127.0.0.1:9000", None, ())


def test_public_url_defaults_to_the_first_tcp_listener(tmp_path: Path) -> None:
    (tmp_path / "server.yaml").write_text(
        'listeners:\n  - address: ./p.sock\n  - address: "[::1]:8443"\n    tls: {certificate: c, key: k}\n'
        "  - address: 127.0.0.1:8000\n"
    )
    assert default_public_url(load_listeners(tmp_path / "server.yaml")) == "https://[::1]:8443"
    with pytest.raises(ListenerError, match="only unix socket listeners"):
        default_public_url([parse_address("./p.sock")])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("listeners: []\n", "non-empty list"),
        ("listen: []\n", "one setting, `listeners`"),
        ("listeners:\n  - port: 80\n", "needs an `address`"),
        ("listeners:\n  - {address: 127.0.0.1:80, tls: {certificate: c}}\n", "`tls` must have exactly"),
        ("listeners:\n  - {address: 127.0.0.1:80, allow: []}\n", "non-empty list of networks"),
        ("listeners:\n  - {address: 127.0.0.1:80, allow: [8]}\n", "bad network 8"),
        ("listeners: [\n", "not valid YAML"),
    ],
)
def test_bad_config_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "server.yaml").write_text(text)
    with pytest.raises(ListenerError, match=message):
        load_listeners(tmp_path / "server.yaml")
