"""A WSGI app that answers with what waitress told it about the client, served by `command_line.run`.

Run as `python -m tests.support.remote_addr_app --config FILE` to see what the product's app would see on each
listener, without adding a route to the product.
"""

import json
import sys
from collections.abc import Callable, Iterable

from palletizer_services import command_line


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """`{"REMOTE_ADDR": ..., "wsgi.url_scheme": ...}`."""
    body = json.dumps({key: environ[key] for key in ("REMOTE_ADDR", "wsgi.url_scheme")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    command_line.run(app, command_line.parse_args("remote-addr-app", sys.argv[1:]), max_body=1024)
