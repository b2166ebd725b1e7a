"""`palletizer-front`: nginx in front of the services, serving index and crate files straight from the data directory.

The sparse index (`index/`) and the crate files (`crates/`) are plain files, so nginx serves them itself;
an index path it does not find as a file (another spelling of a name, say) goes to the index service, and
everything else (the web API, `/me`, `/git/index`, `/health`) to the api and index services. With
`auth_required`, or with the crate files and the index in a bucket, nginx serves nothing itself (a static
file would skip the token check, or is not on this disk): it only proxies.

One client cannot shut out the others: nginx bounds the connections and the request rate of each client
address (`FrontLimits`, 429 past them), reads each request body whole (to a temporary file past 64 KiB)
before passing the request on, so that a slow sender holds nginx rather than a service's thread or
connection, and tells the services the client's address in `X-Forwarded-For` (which they believe only
from a front in their `trusted_proxies`).
"""

import argparse
import grp
import os
import pwd
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from palletizer_lib.core.registry import Registry
from palletizer_lib.disk.data_dir import DATA_HELP, default_data_dir
from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.errors import PalletizerError
from palletizer_lib.domain.publish_body import max_publish_body
from palletizer_lib.domain.urls import FILES_PATH, GIT_PREFIX, INDEX_PATH
from palletizer_services.command_line import positive_int

NGINX = "/usr/sbin/nginx"
TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
# A request body up to this size is kept in memory while nginx reads it; a larger one goes to client_body/.
BODY_BUFFER = "64k"
DEFAULT_CONNECTIONS_PER_CLIENT = 100
DEFAULT_REQUESTS_PER_SECOND = 50
DEFAULT_REQUEST_BURST = 500


@dataclass(frozen=True)
class FrontLimits:
    """What one client address may take of the front: `connections` with a request in progress at once,
    and `rate` requests a second to the services, in bursts of up to `burst` at once (nginx's
    `limit_conn` and `limit_req`); past either, 429."""

    connections: int = DEFAULT_CONNECTIONS_PER_CLIENT
    rate: int = DEFAULT_REQUESTS_PER_SECOND
    burst: int = DEFAULT_REQUEST_BURST


def nginx_conf(
    prefix: Path, servers: str, *, user: str | None = None, access_log: str = "off", limits: FrontLimits = FrontLimits()
) -> str:
    """A whole `nginx.conf` that runs in the foreground with its pid and temporary files under `prefix`,
    around `servers` (`server { ... }` blocks, which apply `front_server`'s per-client `limits`); `user` is
    the workers' user (only when started as root)."""
    temp = "".join(f"    {kind}_temp_path {prefix}/{kind};\n" for kind in TEMP_KINDS)
    return (
        (f"user {user};\n" if user else "")
        + f"worker_processes auto;\ndaemon off;\npid {prefix}/nginx.pid;\nerror_log stderr warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        f"    access_log {access_log};\n{temp}"
        "    limit_conn_zone $binary_remote_addr zone=per_client:10m;\n"
        f"    limit_req_zone $binary_remote_addr zone=per_client_rate:10m rate={limits.rate}r/s;\n"
        "    limit_conn_status 429;\n    limit_req_status 429;\n    limit_conn_log_level warn;\n"
        "    limit_req_log_level warn;\n"
        "    sendfile on;\n    tcp_nopush on;\n    tcp_nodelay on;\n    keepalive_requests 100000;\n"
        "    server_tokens off;\n    default_type text/plain;\n"
        "    types { application/json json; }\n"
        f"{servers}"
        "}\n"
    )


def front_server(
    listen: str,
    data: Path,
    *,
    index_url: str,
    api_url: str,
    files_url: str,
    max_body: int,
    static: bool = True,
    limits: FrontLimits = FrontLimits(),
) -> str:
    """The `server` block of the front. With `static`, `index/` and `crates/` of `data` are served as files
    (an index path with no file, e.g. another spelling of a name, goes to `index_url`); without, they
    go to `index_url` and `files_url`. `/git/` goes to `index_url`, everything else to `api_url`.
    Each client address is held to `limits` (the request rate only on what goes to a service), and its
    address, not what it sent, is passed on in `X-Forwarded-For`."""
    layout = Layout(data)
    proxy = (
        'proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $http_host; '
        "proxy_set_header X-Forwarded-For $remote_addr; proxy_request_buffering on; "
        f"limit_req zone=per_client_rate burst={limits.burst} nodelay;"
    )
    if static:
        locations = [
            # Dot files (index/.head, temporary files of a write in progress) are never served.
            "location ~ /\\. { return 404; }",
            f"location {INDEX_PATH} {{ root {layout.root}; try_files $uri @index; }}",
            f"location @index {{ {proxy} proxy_pass {index_url}; }}",
            f"location {FILES_PATH} {{ alias {layout.crates}/; types {{ }} default_type application/gzip; }}",
        ]
    else:
        locations = [
            f"location {INDEX_PATH} {{ {proxy} proxy_pass {index_url}; }}",
            f"location {FILES_PATH} {{ {proxy} proxy_pass {files_url}; }}",
        ]
    locations += [
        f"location {GIT_PREFIX} {{ {proxy} proxy_pass {index_url}; }}",
        f"location / {{ {proxy} proxy_pass {api_url}; }}",
    ]
    body = "".join(
        f"        {line}\n"
        for line in [
            f"listen {listen};",
            f"client_max_body_size {max_body};",
            f"client_body_buffer_size {BODY_BUFFER};",
            f"limit_conn per_client {limits.connections};",
            *locations,
        ]
    )
    return f"    server {{\n{body}    }}\n"


def workers_user(data: Path) -> str | None:
    """nginx's workers' user and group when started as root: the data directory's owner (the directory is
    private to it); None when not root, or when the owner has no name (nginx's workers then run as its default)."""
    if os.geteuid() != 0:
        return None
    owner = data.stat()
    try:
        return f"{pwd.getpwuid(owner.st_uid).pw_name} {grp.getgrgid(owner.st_gid).gr_name}"
    except KeyError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `palletizer-front`: write nginx's config for the registry in `--data`, then become nginx."""
    parser = argparse.ArgumentParser(prog="palletizer-front", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=default_data_dir(), help=DATA_HELP)
    parser.add_argument(
        "--listen",
        default=os.environ.get("PALLETIZER_LISTEN", "0.0.0.0:8000"),
        help="nginx's address (default: $PALLETIZER_LISTEN, then 0.0.0.0:8000)",
    )
    for service in ("index", "api", "files"):
        variable = f"PALLETIZER_{service.upper()}_UPSTREAM"
        parser.add_argument(
            f"--{service}-upstream",
            default=os.environ.get(variable, f"http://{service}:8000"),
            help=f"the {service} service (default: ${variable}, then http://{service}:8000)",
        )
    limit_options = (
        (
            "connections-per-client",
            "CONNECTIONS_PER_CLIENT",
            DEFAULT_CONNECTIONS_PER_CLIENT,
            "connections one client address may have with a request in progress",
        ),
        (
            "requests-per-second",
            "REQUESTS_PER_SECOND",
            DEFAULT_REQUESTS_PER_SECOND,
            "requests a second one client address may send to the services",
        ),
        (
            "request-burst",
            "REQUEST_BURST",
            DEFAULT_REQUEST_BURST,
            "requests one client address may send to the services at once above that rate",
        ),
    )
    for option, suffix, default, what in limit_options:
        variable = f"PALLETIZER_FRONT_{suffix}"
        parser.add_argument(
            f"--{option}",
            type=positive_int,
            default=os.environ.get(variable) or default,
            help=f"{what}; past it, 429 (default: ${variable}, then {default})",
        )
    parser.add_argument(
        "--prefix",
        default="/tmp/palletizer-front",
        help="where nginx's config, pid and temporary files go (default: /tmp/palletizer-front)",
    )
    args = parser.parse_args(argv)
    try:
        registry = Registry(Path(args.data))
    except PalletizerError as error:
        print(f"palletizer-front: error: {error.detail}", file=sys.stderr)
        return 1
    static = not registry.config.auth_required and registry.config.storage is None
    if registry.config.auth_required:
        print(
            "palletizer-front: auth_required is set, so every request goes to the services (nginx serves "
            "no file itself: that would skip the token check)",
            file=sys.stderr,
            flush=True,
        )
    elif not static:
        print(
            "palletizer-front: the crate files and the index are in a bucket, so every request goes to the "
            "services (nginx serves no file itself)",
            file=sys.stderr,
            flush=True,
        )
    prefix = Path(args.prefix)
    prefix.mkdir(parents=True, exist_ok=True)
    limits = FrontLimits(args.connections_per_client, args.requests_per_second, args.request_burst)
    server = front_server(
        args.listen,
        registry.layout.root,
        index_url=args.index_upstream,
        api_url=args.api_upstream,
        files_url=args.files_upstream,
        max_body=max_publish_body(registry.config.max_crate_size),
        static=static,
        limits=limits,
    )
    conf = prefix / "nginx.conf"
    conf.write_text(
        nginx_conf(prefix, server, user=workers_user(registry.layout.root), access_log="/dev/stdout", limits=limits)
    )
    nginx = shutil.which("nginx") or NGINX
    # -e: errors to stderr from the start (the packaged log path is not writable by an unprivileged user)
    os.execv(nginx, [nginx, "-e", "stderr", "-p", str(prefix), "-c", str(conf)])
