"""Starting a service: command-line options, the registry, and waitress."""

import argparse
import gc
import logging
import os
import resource
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from palletizer_lib.core.composition import Site, open_site
from palletizer_lib.core.registry import Registry
from palletizer_lib.disk.data_dir import DATA_HELP, default_data_dir
from palletizer_lib.domain.errors import PalletizerError
from palletizer_lib.domain.urls import ServedUrls
from palletizer_lib.mirror.gate import PROCESS_GATE
from palletizer_lib.settings.client_address import TrustedProxies, trusted_network
from palletizer_lib.settings.listeners import configured_listeners, default_public_url
from palletizer_lib.stores.protocols import AccountStore
from palletizer_lib.views.browse import REGISTRY_NAME, cargo_config
from palletizer_lib.views.first_steps import FirstStep, publishing_setup
from palletizer_services.allocator import give_back_large_blocks
from palletizer_services.base_app import WebApp
from palletizer_services.bodies import BodyPolicy, BodyRoute
from palletizer_services.server import server, sockets
from palletizer_services.workers import START_FAILED, Supervisor

DEFAULT_LISTEN = "127.0.0.1:8000"
# Requests to the index and the files carry no body, or a small one (a git fetch's negotiation).
DEFAULT_MAX_BODY = 1024 * 1024
# Output waitress gathers before sending it from the worker thread (see `run`).
SEND_BYTES = 16 * 1024
# Connections kept open at once, in all and from one client address; files kept free for everything else
# (crate files, git, SQLite, logs); the descriptors one connection may hold (its socket, a spooled request
# body, a spooled answer; a TLS connection two more, for its relay).
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 100
DEFAULT_SHUTDOWN_GRACE = 30.0
FILE_RESERVE = 100
FILES_PER_CONNECTION = 3
FILES_PER_TLS_CONNECTION = 5
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LOG_LEVEL = "INFO"
MAX_SHUTDOWN_GRACE = 3600.0
# Users the banner names when none has a token.
NAMED_USERS = 5


def palletizer_command(data: str) -> str:
    """`palletizer --data DIR` as it works from any directory (the `palletizer` beside this Python, or on PATH;
    the data directory's absolute path)."""
    beside = Path(sys.executable).parent / "palletizer"
    program = str(beside) if beside.is_file() else shutil.which("palletizer") or "palletizer"
    return f"{shlex.quote(program)} --data {shlex.quote(str(Path(data).resolve()))}"


def first_steps(data: str, accounts: AccountStore) -> str:
    """The banner's last part: what to do next so that cargo can publish, given the registry's users and
    tokens (`publishing_setup`), with the commands as they work from any directory."""
    setup = publishing_setup(accounts)
    login = f"then `cargo login --registry {REGISTRY_NAME}` and paste the token."
    base = palletizer_command(data)
    if setup.step is FirstStep.ADD_USER:
        return (
            f"Publishing needs a token. In another terminal:\n\n    {base} user add alice\n"
            f"    {base} token create --user alice\n\n{login}"
        )
    if setup.step is FirstStep.CREATE_TOKEN:
        named = ", ".join(setup.users[:NAMED_USERS])
        if len(setup.users) > NAMED_USERS:
            named += f" and {len(setup.users) - NAMED_USERS} more"
        return (
            f"Publishing needs a token, and no user has one that is valid (users: {named}). Make one for one "
            f"of them, in another terminal:\n\n    {base} token create --user {shlex.quote(setup.users[0])}\n\n"
            f"{login}"
        )
    return (
        f"Tokens exist: `cargo login --registry {REGISTRY_NAME}` with one of them to publish "
        f"(`{base} token list` lists them)."
    )


def log_level(text: str) -> str:
    """A logging level name, any case (for `--log-level`)."""
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"invalid log level `{text}`: choose one of {', '.join(LOG_LEVELS)}")
    return text.upper()


def configure_logging(level: str, processes: int = 1) -> None:
    """Log to stderr at `level` (INFO shows the access log), with waitress's "Task queue depth" warnings
    kept quiet: they say requests wait for a worker, which a burst of cargo downloads always does. With
    several `processes`, each line carries the process id after its time (`[1234]`)."""
    pid = " [%(process)d]" if processes > 1 else ""
    logging.basicConfig(format=f"%(asctime)s{pid} %(name)s %(levelname)s %(message)s")
    logging.getLogger().setLevel(level)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


def positive_int(text: str) -> int:
    """A whole number of at least 1 (for the connection limits)."""
    if not str(text).isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not `{text}`")
    return int(text)


def seconds(text: str) -> float:
    """A number of seconds, 0 or more (for `--shutdown-grace`)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= MAX_SHUTDOWN_GRACE:
        raise argparse.ArgumentTypeError(f"expected seconds from 0 to {MAX_SHUTDOWN_GRACE:g}, not `{text}`")
    return value


def proxy_network(text: str) -> str:
    """An address or network of a trusted front (for `--trusted-proxy`)."""
    try:
        return str(trusted_network(text))
    except PalletizerError as error:
        raise argparse.ArgumentTypeError(error.detail) from None


def parse_args(prog: str, argv: Sequence[str] | None) -> argparse.Namespace:
    """`--data`, `--listen`, `--public-url`, `--api-url`, `--files-url`, `--log-level`..., with `$PALLETIZER_*`
    as defaults."""
    parser = argparse.ArgumentParser(prog=prog, description="Serve a Palletizer registry.")
    parser.add_argument("--data", default=default_data_dir(), help=DATA_HELP)
    parser.add_argument(
        "--listen",
        default=os.environ.get("PALLETIZER_LISTEN") or DEFAULT_LISTEN,
        metavar="HOST:PORT",
        help=f"address to serve on (default: $PALLETIZER_LISTEN, then {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--public-url",
        default=os.environ.get("PALLETIZER_PUBLIC_URL"),
        help="the URL cargo reaches this server at (default: $PALLETIZER_PUBLIC_URL, "
        "then config.yaml's public_url, then http://HOST:PORT)",
    )
    parser.add_argument(
        "--api-url",
        default=os.environ.get("PALLETIZER_API_URL"),
        help="the URL cargo reaches the web API (palletizer-api) at (default: $PALLETIZER_API_URL, "
        "then config.yaml's api_url, then the public URL)",
    )
    parser.add_argument(
        "--files-url",
        default=os.environ.get("PALLETIZER_FILES_URL"),
        help="the URL cargo downloads crates (palletizer-files) from (default: "
        "$PALLETIZER_FILES_URL, then config.yaml's files_url, then the public URL)",
    )
    parser.add_argument("--threads", type=int, default=8, help="worker threads (default: 8)")
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=os.environ.get("PALLETIZER_WORKERS") or 1,
        metavar="N",
        help="processes serving the same listeners, each with its own threads, "
        "caches and connection limits; the first process supervises them "
        "(default: $PALLETIZER_WORKERS, then 1: one process, no supervisor)",
    )
    parser.add_argument(
        "--config",
        default=os.environ.get("PALLETIZER_CONFIG"),
        metavar="FILE",
        help="server config (YAML) with the listeners to serve on, instead of --listen (default: $PALLETIZER_CONFIG)",
    )
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        default=os.environ.get("PALLETIZER_MAX_CONNECTIONS") or DEFAULT_MAX_CONNECTIONS,
        help="connections served at once; past it a new one replaces the longest idle one, or is "
        "closed (default: $PALLETIZER_MAX_CONNECTIONS, then "
        f"{DEFAULT_MAX_CONNECTIONS}, lowered to fit the open-file limit)",
    )
    parser.add_argument(
        "--max-connections-per-client",
        type=positive_int,
        default=os.environ.get("PALLETIZER_MAX_CONNECTIONS_PER_CLIENT") or DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
        help="connections one client address may have open at once (default: "
        f"$PALLETIZER_MAX_CONNECTIONS_PER_CLIENT, then {DEFAULT_MAX_CONNECTIONS_PER_CLIENT})",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=seconds,
        default=os.environ.get("PALLETIZER_SHUTDOWN_GRACE") or DEFAULT_SHUTDOWN_GRACE,
        help="on SIGTERM or SIGINT, how long requests in flight may take to finish, in seconds "
        f"(default: $PALLETIZER_SHUTDOWN_GRACE, then {DEFAULT_SHUTDOWN_GRACE:g})",
    )
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        type=proxy_network,
        metavar="ADDRESS[/BITS]",
        help="a front (palletizer-front's nginx, a load balancer) whose X-Forwarded-For names the "
        "client; repeat for several; added to config.yaml's trusted_proxies (default: "
        "$PALLETIZER_TRUSTED_PROXIES, comma-separated, then none: the header is never read)",
    )
    parser.add_argument(
        "--log-level",
        type=log_level,
        default=os.environ.get("PALLETIZER_LOG_LEVEL") or DEFAULT_LOG_LEVEL,
        help=f"{', '.join(LOG_LEVELS)} (default: $PALLETIZER_LOG_LEVEL, then {DEFAULT_LOG_LEVEL}); "
        "INFO and DEBUG include the access log, one line per request",
    )
    args = parser.parse_args(argv)
    if args.trusted_proxy is None:
        try:
            args.trusted_proxy = [
                proxy_network(entry)
                for entry in os.environ.get("PALLETIZER_TRUSTED_PROXIES", "").split(",")
                if entry.strip()
            ]
        except argparse.ArgumentTypeError as error:
            parser.error(f"$PALLETIZER_TRUSTED_PROXIES: {error}")
    return args


def trusted_proxies(args: argparse.Namespace, registry: Registry | None = None) -> TrustedProxies:
    """The trusted fronts: `--trusted-proxy` (or $PALLETIZER_TRUSTED_PROXIES) and config.yaml's."""
    return TrustedProxies([*args.trusted_proxy, *(registry.config.trusted_proxies if registry else ())])


def served_urls(args: argparse.Namespace, registry: Registry) -> ServedUrls:
    """The URLs cargo is told to use: each option, else config.yaml; the public URL defaults to
    the first TCP listener's `http(s)://HOST:PORT`, the API's and the files' to the public URL."""
    configured = configured_listeners(args.config, args.listen)
    listen_url = args.public_url or registry.config.public_url or default_public_url(configured)
    return registry.config.served_urls(listen_url, args.public_url, args.api_url, args.files_url)


def main(
    prog: str,
    argv: Sequence[str] | None,
    build: Callable[[Site], WebApp],
    *,
    writes_config: bool = False,
    max_body: Callable[[Registry], int] | None = None,
    bodies: Sequence[BodyRoute] = (),
) -> int:
    """Run a service: parse the options, open the registry, serve `build(site)` until SIGTERM or SIGINT.

    A service that `writes_config` (the index, or all in one) first points `config.json` at the
    served URLs. `max_body(registry)` is the largest request body accepted (default DEFAULT_MAX_BODY);
    `bodies` are the routes that take one (every other request with a body is refused from its headers).
    With `--workers N` over 1, the registry is recovered and the listeners bound once, here, and N forked
    processes each open the registry, build the app and serve (`palletizer_services.workers`).
    """
    args = parse_args(prog, argv)
    configure_logging(args.log_level, args.workers)
    give_back_large_blocks()
    PROCESS_GATE.serving_threads = args.threads
    try:
        site, bound, banner = start(prog, args, writes_config)
    except PalletizerError as error:
        return fail(prog, error)
    print(banner, file=sys.stderr, flush=True)

    def serve_site(site: Site) -> None:
        limit = max_body(site.registry) if max_body else DEFAULT_MAX_BODY
        try:
            run(build(site), args, limit, BodyPolicy(site.access, bodies), bound, trusted_proxies(args, site.registry))
        finally:
            site.catalog.download_counter.close()

    def work() -> None:
        try:
            site = open_site(args.data)
        except PalletizerError as error:
            fail(prog, error)
            raise SystemExit(START_FAILED) from None
        serve_site(site)

    try:
        if args.workers == 1:
            serve_site(site)
            return 0
        # The workers open the registry and its databases anew (a SQLite connection must not cross a fork);
        # the parent's are closed first (they are in reference cycles, which only the collector frees).
        del site
        gc.collect()
        return Supervisor(args.workers, work, [b.socket for b in bound], args.shutdown_grace).run()
    finally:
        # Only here, in the process that bound them: a worker ends in `Supervisor` without returning.
        sockets.release(bound)


def start(prog: str, args: argparse.Namespace, writes_config: bool) -> tuple[Site, list[sockets.Bound], str]:
    """Open the registry, check the URLs it is to be served at, bind every listener (its TLS files
    checked), and only then recover an interrupted write and, if `writes_config`, point `config.json` at
    the URLs: the site, the bound listeners and the banner to print. A start that fails (a `PalletizerError`)
    has changed nothing: `config.json` is as it was and no listener or socket file is left."""
    site = open_site(args.data)
    urls = served_urls(args, site.registry) if writes_config else None
    bound = sockets.bind(configured_listeners(args.config, args.listen))
    try:
        for change in site.registry.recover():
            logging.getLogger("palletizer").warning("recovered from an interrupted write: %s", change)
        if urls is None:
            return site, bound, f"{prog} is serving the registry in {args.data}"
        site.registry.set_urls(urls)
        return (
            site,
            bound,
            (
                f"{prog} is serving the registry in {args.data} at {urls.public} (web API at {urls.api}, downloads at "
                f"{urls.files})\n\nAdd this to .cargo/config.toml:\n\n{cargo_config(site.registry, urls.public)}\n\n"
                f"{first_steps(args.data, site.accounts)}\n"
            ),
        )
    except BaseException:
        sockets.release(bound)
        raise


def bind(args: argparse.Namespace) -> list[sockets.Bound]:
    """The listeners of `--config`, else of `--listen`, bound. One that cannot be used (TLS files, address in
    use...) ends the process with one line."""
    try:
        return sockets.bind(configured_listeners(args.config, args.listen))
    except PalletizerError as error:
        raise SystemExit(fail(os.path.basename(sys.argv[0]), error)) from None


def run(
    app: server.WsgiApp,
    args: argparse.Namespace,
    max_body: int,
    policy: BodyPolicy | None = None,
    bound: list[sockets.Bound] | None = None,
    trusted: TrustedProxies | None = None,
) -> None:
    """Serve `app` with waitress on `bound` (default: `bind(args)`, released when it returns) until SIGTERM or
    SIGINT, believing the `X-Forwarded-For` of `trusted` fronts (default: `--trusted-proxy`'s)."""
    configure_logging(args.log_level, args.workers)
    if bound is None:
        bound = bind(args)
        try:
            run(app, args, max_body, policy, bound, trusted)
        finally:
            sockets.release(bound)
        return
    # waitress refuses bodies of max_request_body_size bytes or more; `max_body` itself is allowed.
    # send_bytes: a small answer's headers and body leave in one send(), not two (waitress's default of 1
    # sends each write at once); on loopback that alone made index serving about 1.4 times faster.
    tls = any(b.context for b in bound)
    limits = server.Limits(
        connection_limit(args.max_connections, tls), args.max_connections_per_client, args.shutdown_grace
    )
    trusted = trusted_proxies(args) if trusted is None else trusted
    server.serve(
        app,
        bound,
        limits,
        policy,
        trusted,
        threads=args.threads,
        max_request_body_size=max_body + 1,
        ident="palletizer",
        clear_untrusted_proxy_headers=True,
        send_bytes=SEND_BYTES,
    )


def connection_limit(wanted: int, tls: bool) -> int:
    """How many connections are served at once: `wanted`, within the open-file limit (first raised to
    its hard limit), so that the process never runs out of descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    per_connection = FILES_PER_TLS_CONNECTION if tls else FILES_PER_CONNECTION
    fitting = max(1, (soft - FILE_RESERVE) // per_connection)
    if fitting < wanted:
        logging.getLogger("palletizer").warning(
            "serving at most %d connections at once (not %d): the open-file limit is %d", fitting, wanted, soft
        )
    return min(wanted, fitting)


def fail(prog: str, error: PalletizerError) -> int:
    """Print a one-line startup error."""
    print(f"{prog}: error: {error.detail}", file=sys.stderr)
    return 1
