"""Registries of up to 100,000 crates, written straight in the on-disk format in minutes.

What the same crates published one by one through the web API would leave (`Operations.publish`: crate file,
index entry, summary, catalog row, owner, audit entry), except the git history: the whole index is ONE
commit, its objects in one pack, as a squashed index would be. Paths, names, entries and summaries come
from the library's own functions, so a change of format reaches the seed too; derived state kept elsewhere
(the catalog, the accounts) is written through the stores' own methods, in one transaction each.

    python -m bench.big_registry DIR COUNT [--public-url URL]
"""

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from dulwich.objects import Blob, Commit, ShaFile, Tree
from dulwich.repo import Repo

from bench.seed import VERSIONS, crate_names, entry_metadata
from palletizer_lib.core.registry import Registry
from palletizer_lib.disk.files import atomic_write
from palletizer_lib.domain import crate_file
from palletizer_lib.domain.index_entry import dump_lines, entry_from_metadata, pubtime
from palletizer_lib.domain.names import index_path
from palletizer_lib.domain.versions import max_version
from palletizer_lib.settings.config import RegistryConfig
from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from palletizer_lib.stores.git_index import AUTHOR, BRANCH
from palletizer_lib.stores.served_index import CONFIG_JSON
from palletizer_lib.views.index_stats import IndexStats
from tests.support.cratekit import crate_for

PUBLISHER = "seeder"
ADDRESS = "127.0.0.1"
DEPENDENCIES = 2
# Versions per crate cycle through this pattern: 1.325 on average, as 26,500 versions of 20,000 crates.
VERSION_COUNTS = (3,) * 3 + (2,) * 7 + (1,) * 30
_DIR_MODE = 0o040000
_FILE_MODE = 0o100644


def version_count(i: int) -> int:
    """How many versions the `i`th crate of a seeded registry has."""
    return VERSION_COUNTS[i % len(VERSION_COUNTS)]


def releases(count: int, index_url: str) -> Iterator[tuple[str, list[tuple[dict, bytes]]]]:
    """The crates of a registry of `count` whose index is `index_url`, in publishing order: each name with
    its versions' publish metadata and the .crate `cargo package` would make (a few dependencies on the
    next crates, as `bench.seed` makes them)."""
    names = crate_names(count)
    for i, name in enumerate(names):
        deps = names[i + 1 : i + 1 + DEPENDENCIES]
        yield (
            name,
            [
                (meta := entry_metadata(name, version, deps), crate_for(meta, index_url=index_url))
                for version in VERSIONS[: version_count(i)]
            ],
        )


def seed_registry(data: Path, count: int, public_url: str, published: float | None = None) -> Registry:
    """A new registry in `data`, served at `public_url`, holding `count` crates (`version_count` versions
    each), every version published at `published` (default: now) by `PUBLISHER`, who owns every crate.

    Derived state that publishing and scraping keep (the search table, the index's kept size) is made here,
    after the files are written.
    """
    registry = Registry.create(data, RegistryConfig(public_url=public_url))
    published = time.time() if published is None else published
    layout = registry.layout
    accounts = Accounts(layout.accounts)
    catalog = Catalog(layout.catalog)
    if PUBLISHER not in accounts.users():
        accounts.add_user(PUBLISHER)
    tree: dict[str, bytes] = {}
    versions = 0
    with accounts.batch(), catalog.batch():
        for name, crates in releases(count, registry.own_index_urls()[0]):
            accounts.add_owner(name, PUBLISHER)
            entries = []
            for metadata, crate in crates:
                entry = entry_from_metadata(metadata, crate_file.checksum(crate))
                entry["pubtime"] = pubtime(published)
                entries.append(entry)
                _write(layout.crate_file(name, entry["vers"]), crate)
                accounts.record(PUBLISHER, "publish", name, entry["vers"], ADDRESS)
                catalog.record_version(name, entry["vers"], PUBLISHER, {**metadata, "bin_names": []}, published)
            content = dump_lines(entries)
            path = index_path(name)
            tree[path] = content
            _write(layout.index / path, content)
            summary = {"name": name, "max_version": max_version(entries)}
            _write(layout.summary_file(name), json.dumps(summary).encode())
            versions += len(entries)
        head = _commit_all(layout.git, tree, f"Seed {count} crates ({versions} versions)\n", published)
        atomic_write(layout.index_head, head + b"\n")
    registry.index.rebuild_search_index()
    IndexStats(registry.log, layout.index_size).current()
    return registry


def _commit_all(git: Path, files: dict[str, bytes], message: str, when: float) -> bytes:
    """Commit `files` (path -> content) on top of the branch, in one commit whose objects go into one pack."""
    with Repo(str(git)) as repo:
        parent = repo.refs.read_ref(BRANCH)
        if parent is not None:
            config_json = _read(repo, repo[parent].tree, CONFIG_JSON)
            if config_json is not None:
                files = {CONFIG_JSON: config_json, **files}
        nested: dict = {}
        for path, content in files.items():
            *dirs, leaf = path.split("/")
            node = nested
            for part in dirs:
                node = node.setdefault(part, {})
            node[leaf] = content
        objects: list[ShaFile] = []
        commit = Commit()
        commit.tree = _tree(nested, objects)
        commit.parents = [parent] if parent else []
        commit.author = commit.committer = AUTHOR
        commit.author_time = commit.commit_time = int(when)
        commit.author_timezone = commit.commit_timezone = 0
        commit.message = message.encode()
        objects.append(commit)
        repo.object_store.add_objects([(obj, None) for obj in objects])
        if not repo.refs.set_if_equals(BRANCH, parent, commit.id):
            raise RuntimeError("the index branch moved while seeding")
        return commit.id


def _tree(node: dict, objects: list[ShaFile]) -> bytes:
    """The id of the tree of `node` (name -> content or sub-node), its objects appended to `objects`."""
    tree = Tree()
    for name, value in node.items():
        if isinstance(value, dict):
            tree.add(name.encode(), _DIR_MODE, _tree(value, objects))
        else:
            blob = Blob.from_string(value)
            objects.append(blob)
            tree.add(name.encode(), _FILE_MODE, blob.id)
    objects.append(tree)
    return tree.id


def _read(repo: Repo, tree_id: bytes, name: str) -> bytes | None:
    tree = repo[tree_id]
    return repo[tree[name.encode()][1]].data if name.encode() in tree else None


def _write(path: Path, data: bytes) -> None:
    """Write a file of the seed (not atomically, not durably: nothing reads the registry yet)."""
    try:
        path.write_bytes(data)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.big_registry", description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="the data directory to create")
    parser.add_argument("count", type=int, help="how many crates")
    parser.add_argument("--public-url", default="http://127.0.0.1:8000", help="where it will be served")
    args = parser.parse_args()
    started = time.monotonic()
    seed_registry(args.data, args.count, args.public_url)
    print(f"seeded {args.count} crates in {args.data} in {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
