"""The arguments of the `palletizer` command: every command, its options and their help."""

import argparse
from pathlib import Path

from palletizer_lib.disk.data_dir import DATA_HELP, default_data_dir
from palletizer_lib.settings.config import DEFAULT_MAX_CRATE_SIZE, DEFAULT_MIRROR_CACHE_SIZE, DEFAULT_UPSTREAM_FRESHNESS
from palletizer_lib.stores.accounts import DEFAULT_SCOPES, SCOPES

# The file argument that means standard input.
STDIN = Path("-")


def _bucket_options(parser: argparse.ArgumentParser) -> None:
    """Where the bucket of `--storage` is: endpoint, region and key prefix."""
    parser.add_argument("--s3-endpoint", metavar="URL", help="the S3 endpoint, if not AWS (e.g. http://HOST:7480)")
    parser.add_argument("--s3-region", metavar="REGION", help="the bucket's region (e.g. us-east-1)")
    parser.add_argument("--s3-prefix", metavar="PREFIX", help="keep everything under this key prefix in the bucket")


def parser() -> argparse.ArgumentParser:
    """The `palletizer` command's arguments: its commands, their options and their help."""
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
