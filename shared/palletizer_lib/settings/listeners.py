"""The server's listeners: addresses it accepts connections on, each with optional TLS and client networks.

A server config file (YAML) lists them; `--listen HOST:PORT` is the one-plain-listener shorthand.
Everything here is checked before anything is served, and every problem is one `ListenerError` line
that names the listener.
"""

import ipaddress
import ssl
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from palletizer_lib.disk import yaml_file
from palletizer_lib.domain.errors import PalletizerError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ListenerError(PalletizerError):
    """The server config or one of its listeners cannot be used (the server does not start)."""


@dataclass(frozen=True)
class Tls:
    """The PEM files a TLS listener presents: the certificate chain (leaf first) and its private key."""

    certificate: Path
    key: Path


@dataclass(frozen=True)
class Listener:
    """One address to serve on: `host`/`port`, or `path` for a unix socket."""

    address: str
    host: str | None = None
    port: int | None = None
    path: Path | None = None
    tls: Tls | None = None
    allow: tuple[Network, ...] = ()

    def allows(self, client: str) -> bool:
        """True if a client at IP address `client` may use this listener."""
        if not self.allow:
            return True
        try:
            ip = ipaddress.ip_address(client)
        except ValueError:
            return False
        return any(ip in network for network in self.allow)

    @property
    def url(self) -> str:
        """`http(s)://HOST:PORT`, or `unix:PATH`."""
        if self.path is not None:
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in str(self.host) else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def fail(self, problem: str) -> ListenerError:
        """An error naming this listener."""
        return ListenerError(f"listener `{self.address}`: {problem}")

    def ssl_context(self) -> ssl.SSLContext:
        """A server-side TLS context with this listener's certificate and key loaded and checked."""
        assert self.tls is not None
        for what, path, marker in (
            ("certificate", self.tls.certificate, b"-----BEGIN CERTIFICATE-----"),
            ("key", self.tls.key, b"PRIVATE KEY-----"),
        ):
            try:
                pem = path.read_bytes()
            except OSError as exc:
                raise self.fail(f"cannot read the {what} file {path}: {exc.strerror}") from exc
            if marker not in pem:
                raise self.fail(f"the {what} file {path} holds no PEM {what}")

        key = self.tls.key

        def refuse_encrypted() -> bytes:
            raise self.fail(f"the key {key} is encrypted: give an unencrypted key (readable only by the server's user)")

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.set_alpn_protocols(["http/1.1"])
        try:
            context.load_cert_chain(self.tls.certificate, self.tls.key, password=refuse_encrypted)
        except ssl.SSLError as exc:
            if exc.reason in ("KEY_VALUES_MISMATCH", "NO_CERTIFICATE_ASSIGNED"):
                problem = f"the key {self.tls.key} does not match the certificate {self.tls.certificate}"
            else:
                problem = f"cannot load the certificate {self.tls.certificate} and key {self.tls.key}: {exc}"
            raise self.fail(problem) from exc
        return context


def parse_address(address: str, relative_to: Path = Path()) -> Listener:
    """`HOST:PORT` (HOST defaults to 127.0.0.1), `[IPV6]:PORT` or a unix socket path (anything with a `/`)."""
    if "/" in address:
        return Listener(address, path=relative_to / address)
    host, sep, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ListenerError(f"listener `{address}`: write an IPv6 address in brackets, e.g. [::1]:8000")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ListenerError(
            f"listener `{address}`: the address must be HOST:PORT, [IPV6]:PORT or a unix socket path (with a `/`)"
        )
    return Listener(address, host=host or "127.0.0.1", port=int(port))


def load_listeners(path: Path) -> list[Listener]:
    """The listeners of a server config file; relative paths in it are relative to its directory."""
    try:
        raw = yaml_file.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ListenerError(f"cannot read the server config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ListenerError(f"{path} is not valid YAML: {yaml_file.one_line(exc)}") from exc
    if not isinstance(raw, dict) or set(raw) != {"listeners"}:
        raise ListenerError(f"{path} must hold one setting, `listeners`, a list of listeners")
    entries = raw["listeners"]
    if not isinstance(entries, list) or not entries:
        raise ListenerError(f"{path}: `listeners` must be a non-empty list")
    listeners = [_listener(entry, path, path.parent) for entry in entries]
    seen: set[tuple[str | None, int | None, Path | None]] = set()
    for listener in listeners:
        key = (listener.host, listener.port, listener.path and listener.path.resolve())
        if key in seen:
            raise listener.fail(f"listed twice in {path}")
        seen.add(key)
    return listeners


def _listener(entry: object, path: Path, base: Path) -> Listener:
    if not isinstance(entry, dict) or not isinstance(entry.get("address"), str):
        raise ListenerError(f"{path}: every listener needs an `address` (a string), not {entry!r}")
    listener = parse_address(entry["address"], base)
    unknown = sorted(set(entry) - {"address", "tls", "allow"})
    if unknown:
        raise listener.fail(f"unknown setting(s) {', '.join(map(str, unknown))}")
    tls, allow = entry.get("tls"), entry.get("allow")
    if tls is not None:
        if (
            not isinstance(tls, dict)
            or set(tls) != {"certificate", "key"}
            or not all(isinstance(value, str) for value in tls.values())
        ):
            raise listener.fail("`tls` must have exactly `certificate` and `key` (file paths)")
        listener = replace(listener, tls=Tls(base / tls["certificate"], base / tls["key"]))
    if allow is not None:
        if listener.path is not None:
            raise listener.fail("`allow` needs a TCP listener (unix socket clients have no address)")
        if not isinstance(allow, list) or not allow:
            raise listener.fail('`allow` must be a non-empty list of networks, e.g. [10.0.0.0/8, "fd00::/8"]')
        listener = replace(listener, allow=tuple(_network(listener, item) for item in allow))
    return listener


def _network(listener: Listener, item: object) -> Network:
    try:
        if not isinstance(item, str):
            raise ValueError("not a string")
        return ipaddress.ip_network(item)
    except ValueError as exc:
        raise listener.fail(f"`allow` has a bad network {item!r}: {exc}") from exc


def configured_listeners(config: str | None, listen: str) -> list[Listener]:
    """The listeners of the server config file `config` if given, else the one `--listen` address."""
    if config:
        return load_listeners(Path(config))
    return [parse_address(listen)]


def default_public_url(listeners: list[Listener]) -> str:
    """The URL of the first TCP listener, for a server given no public URL."""
    for listener in listeners:
        if listener.path is None:
            return listener.url
    raise ListenerError(
        "with only unix socket listeners, set the public URL (--public-url or public_url in config.yaml)"
    )
