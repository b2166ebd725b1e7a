"""`palletizer`: manage a registry's data directory directly (no server needed)."""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .config import DEFAULT_MAX_CRATE_SIZE, RegistryConfig
from .errors import BadRequest, PalletizerError, RegistryExists
from .registry import Registry

DEFAULT_DATA = "./data"


def default_data_dir() -> str:
    """`$PALLETIZER_DATA`, else `./data`."""
    return os.environ.get("PALLETIZER_DATA") or DEFAULT_DATA


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="palletizer", description="Manage a Palletizer registry's data directory.")
    parser.add_argument("--data", default=default_data_dir(),
                        help="the registry's data directory (default: $PALLETIZER_DATA, then ./data)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create an empty registry")
    init.add_argument("--public-url", help="the URL cargo reaches the server at, e.g. http://127.0.0.1:8000")
    init.add_argument("--api-url", help="the URL of the web API, if not the public URL (palletizer-api)")
    init.add_argument("--files-url", help="the URL of the downloads, if not the public URL (palletizer-files)")
    init.add_argument("--allowed-registry", action="append", default=[], metavar="URL",
                      help="index URL of another registry dependencies may come from (repeatable)")
    init.add_argument("--no-crates-io", action="store_true", help="refuse dependencies from crates.io")
    init.add_argument("--max-crate-size", type=int, default=DEFAULT_MAX_CRATE_SIZE, metavar="BYTES")
    init.add_argument("--exist-ok", action="store_true",
                      help="do nothing if DIR already holds a registry (safe when several processes race)")

    add = commands.add_parser("add", help="add .crate files made elsewhere (e.g. by `cargo package`)")
    add.add_argument("files", nargs="+", type=Path, metavar="FILE.crate")

    for name, text in (("remove", "delete a version and its crate file"), ("yank", "yank a version"),
                       ("unyank", "undo a yank")):
        command = commands.add_parser(name, help=text)
        command.add_argument("name")
        command.add_argument("version")

    listing = commands.add_parser("list", help="list crates, or the versions of one crate")
    listing.add_argument("name", nargs="?")

    commands.add_parser("verify", help="check that the index and the crate files agree")
    return parser


def _run(args: argparse.Namespace) -> int:
    data = Path(args.data)
    if args.command == "init":
        config = RegistryConfig(public_url=args.public_url, api_url=args.api_url, files_url=args.files_url,
                                max_crate_size=args.max_crate_size, allow_crates_io=not args.no_crates_io,
                                allowed_registries=args.allowed_registry)
        try:
            Registry.create(data, config)
        except RegistryExists:
            if args.exist_ok:
                return 0
            raise
        print(f"initialised an empty registry in {data}", file=sys.stderr)
        return 0
    registry = Registry(data)
    if args.command == "add":
        for file in args.files:
            try:
                content = file.read_bytes()
            except OSError as exc:
                raise BadRequest(f"cannot read {file}: {exc.strerror or exc}") from exc
            entry = registry.add(content)
            print(f"added {entry['name']} {entry['vers']}")
    elif args.command == "remove":
        registry.remove(args.name, args.version)
        print(f"removed {args.name} {args.version}")
    elif args.command in ("yank", "unyank"):
        registry.set_yanked(args.name, args.version, args.command == "yank")
        print(f"{args.command}ed {args.name} {args.version}")
    elif args.command == "list":
        _list(registry, args.name)
    elif args.command == "verify":
        problems = registry.verify()
        for problem in problems:
            print(problem)
        if problems:
            print(f"verify: {len(problems)} problem(s) found", file=sys.stderr)
            return 1
        print("verify: the registry is consistent", file=sys.stderr)
    return 0


def _list(registry: Registry, name: str | None) -> None:
    if name is None:
        for summary in sorted(registry.summaries(), key=lambda s: s.name.lower()):
            print(f"{summary.name} {summary.max_version}")
        return
    for entry in registry.entries(name):
        print(f"{entry['name']} {entry['vers']}{' (yanked)' if entry['yanked'] else ''}")


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
