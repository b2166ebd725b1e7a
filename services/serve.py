"""Starting a service: command-line options, the registry, and waitress."""

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import falcon
import waitress
import waitress.utilities

from palletizer_lib.cli import default_data_dir
from palletizer_lib.errors import PalletizerError
from palletizer_lib.registry import Registry
from services.http import error_body

DEFAULT_LISTEN = "127.0.0.1:8000"


def parse_args(prog: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """`--data`, `--listen`, `--public-url`, with `$PALLETIZER_*` as defaults."""
    parser = argparse.ArgumentParser(prog=prog, description="Serve a Palletizer registry.")
    parser.add_argument("--data", default=default_data_dir(),
                        help="the registry's data directory (default: $PALLETIZER_DATA, then ./data)")
    parser.add_argument("--listen", default=os.environ.get("PALLETIZER_LISTEN") or DEFAULT_LISTEN,
                        metavar="HOST:PORT", help=f"address to serve on (default: $PALLETIZER_LISTEN, then {DEFAULT_LISTEN})")
    parser.add_argument("--public-url", default=os.environ.get("PALLETIZER_PUBLIC_URL"),
                        help="the URL cargo reaches this server at (default: $PALLETIZER_PUBLIC_URL, "
                             "then config.yaml's public_url, then http://HOST:PORT)")
    parser.add_argument("--threads", type=int, default=8, help="worker threads (default: 8)")
    return parser.parse_args(argv)


def split_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` or `[V6]:PORT` -> (host, port)."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise PalletizerError(f"--listen must be HOST:PORT, not `{listen}`")
    return host.strip("[]") or "127.0.0.1", int(port)


def public_url_for(args: argparse.Namespace, registry: Registry) -> str:
    """The URL cargo is told to use: the option, the config, else the listen address."""
    if args.public_url:
        return args.public_url.rstrip("/")
    if registry.config.public_url:
        return registry.config.public_url.rstrip("/")
    host, port = split_listen(args.listen)
    waitress.utilities.Error.to_response = _waitress_error_response
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}"


def open_registry(args: argparse.Namespace) -> tuple[Registry, str]:
    """Open the data directory and point its `config.json` at the public URL."""
    registry = Registry(args.data)
    public_url = public_url_for(args, registry)
    registry.set_public_url(public_url)
    return registry, public_url


def _waitress_error_response(error: waitress.utilities.Error, ident: str | None = None) -> tuple:
    """Errors waitress answers itself (body too large, bad request line) as Cargo's error JSON."""
    detail = f"{error.reason}: {error.body}"
    return f"{error.code} {error.reason}", [("Content-Type", "application/json")], error_body(detail)


def run(app: falcon.App, args: argparse.Namespace, max_body: int) -> None:
    """Serve `app` with waitress on `args.listen` until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    host, port = split_listen(args.listen)
    waitress.utilities.Error.to_response = _waitress_error_response
    # waitress refuses bodies of max_request_body_size bytes or more; `max_body` itself is allowed.
    waitress.serve(app, host=host, port=port, threads=args.threads, max_request_body_size=max_body + 1,
                   ident="palletizer", clear_untrusted_proxy_headers=True)


def fail(prog: str, error: PalletizerError) -> int:
    """Print a one-line startup error."""
    print(f"{prog}: error: {error.detail}", file=sys.stderr)
    return 1
