"""`palletizer`: manage a registry's data directory directly (no server needed)."""

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from palletizer_lib.admin.cli_arguments import STDIN, parser
from palletizer_lib.admin.export import export_static
from palletizer_lib.admin.importer import ADDED, REFUSED, SKIPPED, import_directory, read_crate_file
from palletizer_lib.admin.migrate import migrate_to_cluster, migrate_to_local
from palletizer_lib.core.actor import Actor
from palletizer_lib.core.composition import Site, open_site
from palletizer_lib.core.operations import Operations
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.errors import AlreadyPublished, BadRequest, PalletizerError, RegistryExists
from palletizer_lib.domain.progress import ProgressBar
from palletizer_lib.domain.urls import sparse_index_url
from palletizer_lib.mirror.cache import Mirror
from palletizer_lib.mirror.lockfile import fetch_locked, upstream_packages
from palletizer_lib.mirror.policy import allow_name
from palletizer_lib.mirror.status import cache_status, verify_cache
from palletizer_lib.settings.config import (
    RegistryConfig,
    split_credentials,
    validate_database,
    validate_upstream,
)
from palletizer_lib.settings.permissions import exposed
from palletizer_lib.settings.storage import StorageConfig
from palletizer_lib.stores.accounts import DEFAULT_SCOPES


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
    args = parser().parse_args(argv)
    try:
        return _run(args)
    except PalletizerError as exc:
        print(f"palletizer: error: {' '.join(exc.detail.split())}", file=sys.stderr)  # one line, always
        return 1


if __name__ == "__main__":
    sys.exit(main())
