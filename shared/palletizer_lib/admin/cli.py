"""`palletizer`: manage a registry's data directory directly (no server needed)."""

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from palletizer_lib.admin.export import export_static
from palletizer_lib.admin.importer import ADDED, REFUSED, SKIPPED, import_directory, read_crate_file
from palletizer_lib.admin.migrate import migrate_to_cluster, migrate_to_local
from palletizer_lib.core.actor import Actor
from palletizer_lib.core.composition import Site, open_site
from palletizer_lib.core.operations import Operations
from palletizer_lib.core.registry import Registry
from palletizer_lib.disk.data_dir import DATA_HELP, default_data_dir
from palletizer_lib.domain.errors import AlreadyPublished, BadRequest, PalletizerError, RegistryExists
from palletizer_lib.domain.progress import ProgressBar
from palletizer_lib.domain.urls import sparse_index_url
from palletizer_lib.mirror.cache import Mirror
from palletizer_lib.mirror.lockfile import fetch_locked, upstream_packages
from palletizer_lib.mirror.policy import allow_name
from palletizer_lib.mirror.status import cache_status, verify_cache
from palletizer_lib.settings.config import (
    DEFAULT_MAX_CRATE_SIZE,
    DEFAULT_MIRROR_CACHE_SIZE,
    DEFAULT_UPSTREAM_FRESHNESS,
    RegistryConfig,
    split_credentials,
    validate_database,
    validate_upstream,
)
from palletizer_lib.settings.permissions import exposed
from palletizer_lib.settings.storage import StorageConfig
from palletizer_lib.stores.accounts import DEFAULT_SCOPES, SCOPES

STDIN = Path("-")


def _bucket_options(parser: argparse.ArgumentParser) -> None:
    """Where the bucket of `--storage` is: endpoint, region and key prefix."""
    parser.add_argument("--s3-endpoint", metavar="URL", help="the S3 endpoint, if not AWS (e.g. http://HOST:7480)")
    parser.add_argument("--s3-region", metavar="REGION", help="the bucket's region (e.g. us-east-1)")
    parser.add_argument("--s3-prefix", metavar="PREFIX", help="keep everything under this key prefix in the bucket")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="palletizer", description="Manage a Palletizer registry's data directory.")
    parser.add_argument("--data", default=default_data_dir(), help=DATA_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create an empty registry")
    init.add_argument("--public-url", help="the URL cargo reaches the server at, e.g. http://127.0.0.1:8000")
    init.add_argument("--api-url", help="the URL of the web API, if not the public URL (palletizer-api)")
    init.add_argument("--files-url", help="the URL of the downloads, if not the public URL (palletizer-files)")
    init.add_argument(
        "--allowed-registry",
        action="append",
        default=[],
        metavar="URL",
        help="index URL of another registry dependencies may come from (repeatable)",
    )
    init.add_argument("--no-crates-io", action="store_true", help="refuse dependencies from crates.io")
    init.add_argument("--max-crate-size", type=int, default=DEFAULT_MAX_CRATE_SIZE, metavar="BYTES")
    init.add_argument(
        "--exist-ok",
        action="store_true",
        help="do nothing if DIR already holds a registry (safe when several processes race)",
    )

    init.add_argument(
        "--auth-required",
        action="store_true",
        help="every read (index, downloads, search) needs a token too, not only changes",
    )
    init.add_argument(
        "--upstream",
        metavar="URL",
        help="mirror crates not published here from this sparse registry "
        "(sparse+https://index.crates.io/ for crates.io); a USER:PASSWORD@ in it is kept "
        "apart, in DIR/upstream-credentials (0600), and sent as Basic authentication",
    )
    init.add_argument(
        "--upstream-freshness",
        type=int,
        default=DEFAULT_UPSTREAM_FRESHNESS,
        metavar="SECONDS",
        help="serve a mirrored index file this long before asking the upstream again "
        f"(default: {DEFAULT_UPSTREAM_FRESHNESS})",
    )
    init.add_argument(
        "--mirror-cache-size",
        type=int,
        default=DEFAULT_MIRROR_CACHE_SIZE,
        metavar="BYTES",
        help="keep at most this much of the upstream's files, the least recently used evicted "
        f"first (default: {DEFAULT_MIRROR_CACHE_SIZE})",
    )
    init.add_argument(
        "--storage",
        metavar="s3://BUCKET",
        help="keep the crate files and the served index in this S3 bucket (credentials from "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, never written down)",
    )
    _bucket_options(init)
    init.add_argument(
        "--s3-direct-reads",
        action="store_true",
        help="let cargo read the index and download crates straight from the bucket (anyone may "
        "read and list it; not with --auth-required)",
    )
    init.add_argument(
        "--s3-public-url",
        metavar="URL",
        help="the URL anonymous readers reach the bucket at (default: the endpoint's /BUCKET)",
    )
    init.add_argument(
        "--database",
        metavar="URL",
        help="keep the index, accounts, catalog and search in this PostgreSQL database "
        "(postgresql://USER@HOST:PORT/DATABASE) instead of files in DIR; with --storage too, "
        "several servers can serve the registry, each with a copy of DIR",
    )

    migrate = commands.add_parser(
        "migrate",
        help="move the registry to an S3 bucket and a PostgreSQL database, "
        "or (--local) back to DIR's own files; the source is left as "
        "it was, for you to delete",
    )
    target = migrate.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--storage",
        metavar="s3://BUCKET",
        help="the bucket to keep the crate files and the served index in (with --database)",
    )
    target.add_argument("--local", action="store_true", help="back to DIR's git index, files and SQLite")
    _bucket_options(migrate)
    migrate.add_argument(
        "--database",
        metavar="URL",
        help="the PostgreSQL database for the index, accounts, catalog and search "
        "(postgresql://USER@HOST:PORT/DATABASE)",
    )

    add = commands.add_parser("add", help="add .crate files made elsewhere (e.g. by `cargo package`)")
    add.add_argument(
        "files",
        nargs="+",
        type=Path,
        metavar="FILE.crate",
        help="`-` reads one from standard input (e.g. into a container)",
    )
    add.add_argument("--owner", metavar="USER", help="make USER an owner of new crates (else only admins manage them)")

    importing = commands.add_parser(
        "import", help="add every .crate file under DIR, in dependency order, skipping versions already present"
    )
    importing.add_argument("directory", type=Path, metavar="DIR")
    importing.add_argument(
        "--owner", metavar="USER", help="make USER an owner of new crates (else only admins manage them)"
    )

    export = commands.add_parser("export", help="write the index and crate files as a static registry under DIR")
    export.add_argument("directory", type=Path, metavar="DIR")
    export.add_argument(
        "--base-url",
        required=True,
        metavar="URL",
        help="the URL DIR will be served at (cargo's index: sparse+URL/index/)",
    )
    export.add_argument("--api-url", metavar="URL", help="the web API to name in config.json (default: none)")

    for name, text in (
        ("remove", "delete a version and its crate file"),
        ("yank", "yank a version"),
        ("unyank", "undo a yank"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("name")
        command.add_argument("version")

    listing = commands.add_parser("list", help="list crates, or the versions of one crate")
    listing.add_argument("name", nargs="?")

    mirror = commands.add_parser("mirror", help="the cache of the upstream registry").add_subparsers(
        dest="action", required=True
    )
    fetch = mirror.add_parser("fetch", help="bring every upstream crate of these Cargo.lock files into the cache")
    fetch.add_argument("lockfiles", nargs="+", type=Path, metavar="Cargo.lock")
    mirror.add_parser("status", help="what the cache holds")

    git = commands.add_parser("git", help="the git index").add_subparsers(dest="action", required=True)
    git.add_parser("squash", help="replace the git index's history by one commit holding the current index")

    allow = commands.add_parser(
        "allow-name",
        help="let a new crate NAME be published here though the upstream registry has a crate of that name",
    )
    allow.add_argument("name")

    verify = commands.add_parser("verify", help="check that the index and the crate files agree")
    verify.add_argument(
        "--repair",
        action="store_true",
        help="first fix what can be fixed (leftovers of interrupted writes, unreferenced crate "
        "files set aside in orphans/, served files rewritten from git) and report it",
    )

    user = commands.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    user.add_parser("add", help="create a user").add_argument("user")
    user.add_parser("remove", help="delete a user, their tokens and ownerships").add_argument("user")
    user.add_parser("list", help="list users")

    token = commands.add_parser("token", help="manage API tokens").add_subparsers(dest="action", required=True)
    create = token.add_parser("create", help="make a token (printed once, alone on stdout)")
    create.add_argument("--user", required=True)
    create.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        metavar="SCOPE",
        help=f"what the token may do, repeatable: {', '.join(SCOPES)} (default: {' '.join(DEFAULT_SCOPES)})",
    )
    create.add_argument("--expires", type=float, metavar="DAYS", help="valid for DAYS days (default: no expiry)")
    token.add_parser("list", help="list tokens (never the tokens themselves)").add_argument("--user")
    token.add_parser("revoke", help="make a token unusable").add_argument("id", type=int)

    owner = commands.add_parser("owner", help="manage crate owners").add_subparsers(dest="action", required=True)
    for action, text in (("add", "make USER an owner of CRATE"), ("remove", "take USER off CRATE's owners")):
        command = owner.add_parser(action, help=text)
        command.add_argument("crate")
        command.add_argument("user")
    owner.add_parser("list", help="list a crate's owners").add_argument("crate")

    audit = commands.add_parser("audit", help="who published, yanked and changed owners, when, from where")
    audit.add_argument("--limit", type=int, default=100, help="the newest N entries (default: 100)")
    return parser


def _init(args: argparse.Namespace) -> int:
    upstream, credentials = split_credentials(args.upstream) if args.upstream else (None, None)
    config = RegistryConfig(
        public_url=args.public_url,
        api_url=args.api_url,
        files_url=args.files_url,
        max_crate_size=args.max_crate_size,
        allow_crates_io=not args.no_crates_io,
        allowed_registries=args.allowed_registry,
        auth_required=args.auth_required,
        upstream=validate_upstream(upstream) if upstream else None,
        upstream_freshness=_seconds(args.upstream_freshness),
        storage=_storage(args),
        mirror_cache_size=args.mirror_cache_size,
        database=validate_database(args.database) if args.database else None,
    )
    try:
        Registry.create(Path(args.data), config, credentials)
    except RegistryExists:
        if args.exist_ok:
            return 0
        raise
    print(f"initialised an empty registry in {args.data}", file=sys.stderr)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    """`migrate`: to the bucket and database named, or `--local` back; what was copied, and what is left."""
    if args.local:
        given = [
            option
            for option, value in (
                ("--s3-endpoint", args.s3_endpoint),
                ("--s3-region", args.s3_region),
                ("--s3-prefix", args.s3_prefix),
                ("--database", args.database),
            )
            if value is not None
        ]
        if given:
            raise BadRequest(f"--local takes no {', '.join(given)}")
        migrated = migrate_to_local(Path(args.data))
    else:
        if args.database is None:
            raise BadRequest("--storage needs --database postgresql://USER@HOST:PORT/DATABASE")
        storage = StorageConfig.from_mapping(_storage(args, {}))
        migrated = migrate_to_cluster(Path(args.data), storage, validate_database(args.database))
    rows = ", ".join(f"{count} {table}" for table, count in migrated.rows.items())
    print(
        f"migrate: copied {migrated.crate_files} crate files, {migrated.index_files} index files and the rows "
        f"({rows}) from {migrated.source} to {migrated.target}, and verified them; {args.data}/config.yaml "
        "now names the target",
        file=sys.stderr,
    )
    aside = f" (its former git index is now {migrated.set_aside})" if migrated.set_aside else ""
    print(
        f"migrate: {migrated.source} is left as it was{aside}: delete it once the registry serves from "
        f"{migrated.target}",
        file=sys.stderr,
    )
    return 0


def _storage(args: argparse.Namespace, extra: dict[str, object] | None = None) -> dict[str, str | bool] | None:
    """The `storage:` setting the `--storage` and `--s3-*` options ask for (`extra`: those a command has
    beyond endpoint, region and prefix; by default `init`'s), checked; None for the data directory."""
    if extra is None:
        extra = {"public_url": args.s3_public_url, "direct_reads": args.s3_direct_reads or None}
    s3_options = {"endpoint": args.s3_endpoint, "region": args.s3_region, "prefix": args.s3_prefix, **extra}
    if args.storage is None:
        given = [f"--s3-{name.replace('_', '-')}" for name, value in s3_options.items() if value is not None]
        if given:
            raise BadRequest(f"{', '.join(given)} need --storage s3://BUCKET")
        return None
    raw = {"url": args.storage} | {name: value for name, value in s3_options.items() if value is not None}
    return StorageConfig.from_mapping(raw).to_mapping()


def _seconds(value: int) -> int:
    if value < 0:
        raise BadRequest("--upstream-freshness must be 0 or more seconds")
    return value


def _crate_bytes(file: Path, registry: Registry) -> bytes:
    """The .crate file `file`, or for `-` the one on standard input (read up to one byte past the size
    limit, which the publish checks then refuse)."""
    if file == STDIN:
        return sys.stdin.buffer.read(registry.config.max_crate_size + 1)
    return read_crate_file(file, registry)


def _add(args: argparse.Namespace, site: Site) -> int:
    site.operations.check_user(args.owner)
    with ProgressBar() as bar:
        for done, file in enumerate(args.files, 1):
            try:
                entry = site.operations.add(Actor.command_line(), _crate_bytes(file, site.registry), args.owner)
            except AlreadyPublished as exc:
                if not exc.identical:
                    raise
                bar.line(f"{file}: already present, nothing to do", file=sys.stderr)
            else:
                bar.line(f"added {entry['name']} {entry['vers']}")
            bar("adding", done, len(args.files))
    return 0


def _remove(args: argparse.Namespace, site: Site) -> int:
    site.operations.remove(Actor.command_line(), args.name, args.version)
    print(f"removed {args.name} {args.version}")
    return 0


def _set_yanked(args: argparse.Namespace, site: Site) -> int:
    site.operations.set_yanked(Actor.command_line(), args.name, args.version, args.command == "yank")
    print(f"{args.command}ed {args.name} {args.version}")
    return 0


def _list_command(args: argparse.Namespace, site: Site) -> int:
    _list(site, args.name)
    return 0


def _squash(args: argparse.Namespace, site: Site) -> int:
    if site.registry.squash_git():
        print("git squash: the index's history is one commit", file=sys.stderr)
    else:
        print("git squash: the index has no commit yet", file=sys.stderr)
    return 0


def _allow_name(args: argparse.Namespace, site: Site) -> int:
    if allow_name(site.registry.layout, args.name):
        print(f"a new crate {args.name} may now be published here, shadowing the upstream's", file=sys.stderr)
    else:
        print(f"{args.name} was already allowed", file=sys.stderr)
    return 0


def _verify(args: argparse.Namespace, site: Site) -> int:
    registry = site.registry
    if args.repair:
        for change in registry.repair() + site.catalog.render_missing_readmes():
            print(f"repaired: {change}")
    with ProgressBar() as bar:
        problems = registry.verify(bar)
    problems += verify_cache(registry.layout)
    for warning in exposed(registry.layout):
        print(f"verify: warning: {warning}", file=sys.stderr)
    for problem in problems:
        print(problem)
    if problems:
        print(f"verify: {len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print("verify: the registry is consistent", file=sys.stderr)
    return 0


_REGISTRY_COMMANDS: dict[str, Callable[[argparse.Namespace, Site], int]] = {
    "add": _add,
    "import": lambda args, site: _import(args, site.operations),
    "export": lambda args, site: _export(args, site.registry),
    "remove": _remove,
    "yank": _set_yanked,
    "unyank": _set_yanked,
    "list": _list_command,
    "mirror": lambda args, site: _mirror(args, site.registry),
    "git": _squash,
    "allow-name": _allow_name,
    "verify": _verify,
}


def _mirror(args: argparse.Namespace, registry: Registry) -> int:
    upstream = registry.config.upstream
    if not upstream:
        raise BadRequest("this registry has no upstream (set `upstream` in config.yaml)")
    if args.action == "status":
        status = cache_status(registry.layout, registry.config.upstream_freshness)
        print(f"upstream: {upstream} (fresh for {registry.config.upstream_freshness} s)")
        print(
            f"index files: {status.index_files} ({status.index_bytes} bytes, {status.stale_index_files} to revalidate)"
        )
        print(f"crate files: {status.crate_files} ({status.crate_bytes} bytes)")
        print(
            f"cache size: {status.index_bytes + status.crate_bytes} of {registry.config.mirror_cache_size} bytes "
            "(mirror_cache_size)"
        )
        return 0
    crates = list(
        dict.fromkeys(crate for lockfile in args.lockfiles for crate in upstream_packages(lockfile, upstream))
    )
    counts: dict[str, int] = {}
    mirror = Mirror(registry.config, registry.layout, registry.is_local)
    with ProgressBar() as bar:
        bar("fetching", 0, len(crates))
        for done, (crate, outcome, reason) in enumerate(fetch_locked(mirror, crates), 1):
            counts[outcome] = counts.get(outcome, 0) + 1
            bar.line(f"{outcome} {crate.name} {crate.version}" + (f": {reason}" if reason else ""))
            bar("fetching", done, len(crates))
    os.sync()
    print(
        "mirror fetch: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("fetched", "cached", "skipped", "failed")),
        file=sys.stderr,
    )
    return 1 if counts.get("failed") else 0


def _import(args: argparse.Namespace, operations: Operations) -> int:
    """`import DIR`: one line per file (added, skipped or refused, and why), then the totals;
    exit status 1 only if a file was refused."""
    with ProgressBar() as bar:
        report = import_directory(
            operations, args.directory, actor=Actor.command_line(), owner=args.owner, progress=bar
        )
    for outcome in report.outcomes:
        what = f"{outcome.name} {outcome.version}" if outcome.name else "-"
        reason = f": {' '.join(outcome.reason.split())}" if outcome.reason else ""
        print(f"{outcome.result} {what} ({outcome.path}){reason}")
    if report.restored:
        print(
            f"import: {args.directory} is an export: added versions keep its yanks, publication times, "
            "publishers and downloads, and new crates its owners",
            file=sys.stderr,
        )
    for user in report.created_users:
        print(
            f"import: created user {user} to own crates as in the export; it has no token yet "
            f"(`palletizer token create --user {user}`)",
            file=sys.stderr,
        )
    print(f"import: {report.count(ADDED)} added, {report.count(SKIPPED)} skipped, {report.count(REFUSED)} refused")
    return 1 if report.count(REFUSED) else 0


def _export(args: argparse.Namespace, registry: Registry) -> int:
    """`export DIR --base-url URL`: the static registry, and how to point cargo at it."""
    with ProgressBar() as bar:
        summary = export_static(registry, args.directory, args.base_url, args.api_url, progress=bar)
    print(
        f"exported {summary.crates} crates ({summary.versions} versions) to {args.directory}: "
        f"{summary.written} files written, {summary.removed} removed",
        file=sys.stderr,
    )
    if registry.config.auth_required:
        print(
            "warning: this registry has auth_required, but a static server checks no token: whoever "
            "reaches it can read every crate",
            file=sys.stderr,
        )
    print(
        f"Serve {args.directory} at {args.base_url.rstrip('/')}, and in .cargo/config.toml:\n\n"
        f'[registries.palletizer]\nindex = "{sparse_index_url(args.base_url)}"',
        file=sys.stderr,
    )
    return 0


def _accounts_command(args: argparse.Namespace, site: Site) -> int:
    accounts, operations = site.accounts, site.operations
    command = (args.command, getattr(args, "action", None))
    if command == ("user", "add"):
        accounts.add_user(args.user)
        print(f"added user {args.user}", file=sys.stderr)
    elif command == ("user", "remove"):
        accounts.remove_user(args.user)
        print(f"removed user {args.user}", file=sys.stderr)
    elif command == ("user", "list"):
        for name in accounts.users():
            print(name)
    elif command == ("token", "create"):
        token_id, token = accounts.create_token(args.user, args.scope or DEFAULT_SCOPES, args.expires)
        print(token)
        print(f"token {token_id} for {args.user}; it is shown only now", file=sys.stderr)
    elif command == ("token", "list"):
        for info in accounts.tokens(args.user):
            state = (
                "revoked " + _when(info.revoked)
                if info.revoked
                else "expires " + _when(info.expires)
                if info.expires
                else "no expiry"
            )
            print(f"{info.id}\t{info.user}\t{' '.join(info.scopes)}\tcreated {_when(info.created)}\t{state}")
    elif command == ("token", "revoke"):
        accounts.revoke_token(args.id)
        print(f"revoked token {args.id}", file=sys.stderr)
    elif command[0] == "owner":
        crate = operations.existing(args.crate)
        if args.action == "list":
            print("\n".join(accounts.owners(crate)) or f"crate {crate} has no owners (only admins manage it)")
        else:
            operations.change_owners(Actor.command_line(), crate, [args.user], args.action == "add")
            print(f"{'added' if args.action == 'add' else 'removed'} owner {args.user} of {crate}", file=sys.stderr)
    elif args.command == "audit":
        for entry in accounts.audit(args.limit):
            what = " ".join(part for part in (entry.crate, entry.version, entry.detail) if part)
            print(f"{_when(entry.time)}\t{entry.actor}\t{entry.action}\t{what}\t{entry.address or ''}")
    return 0


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(args: argparse.Namespace) -> int:
    if args.command == "init":
        return _init(args)
    if args.command == "migrate":
        return _migrate(args)
    site = open_site(args.data)
    if args.command in ("user", "token", "owner", "audit"):
        return _accounts_command(args, site)
    return _REGISTRY_COMMANDS[args.command](args, site)


def _list(site: Site, name: str | None) -> None:
    registry = site.registry
    if name is None:
        for summary in sorted(registry.summaries(), key=lambda s: s.name.lower()):
            print(f"{summary.name} {summary.max_version}")
        return
    entries = registry.entries(name)
    downloads = site.catalog.version_downloads(name)
    for entry in entries:
        count = downloads.get(entry["vers"], 0)
        print(
            f"{entry['name']} {entry['vers']}{' (yanked)' if entry['yanked'] else ''}\t"
            f"{count} download{'' if count == 1 else 's'}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `palletizer` command."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except PalletizerError as exc:
        print(f"palletizer: error: {' '.join(exc.detail.split())}", file=sys.stderr)  # one line, always
        return 1


if __name__ == "__main__":
    sys.exit(main())
