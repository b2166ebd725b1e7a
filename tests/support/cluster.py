"""A registry on several nodes for the tests: one bucket on the test Ceph gateway, one PostgreSQL database,
and `palletizer-all` nodes, each over its own copy of one config-only data directory."""

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from palletizer_lib.settings.storage import StorageConfig
from tests.support.server import BIN, free_port, palletizer, running_process


@dataclass(frozen=True)
class Cluster:
    """The nodes' data directories and URLs (config.json sends the web API to the first node, index reads
    and downloads to the second)."""

    data: list[Path]
    urls: list[str]
    processes: list[subprocess.Popen]

    def token(self, user: str = "tester", scopes: tuple[str, ...] = ("admin",)) -> str:
        """A new token for `user` (added if missing), made with the CLI on the first node's data directory."""
        if user not in palletizer(self.data[0], "user", "list").stdout.split():
            palletizer(self.data[0], "user", "add", user)
        scope_args = [arg for scope in scopes for arg in ("--scope", scope)]
        return palletizer(self.data[0], "token", "create", "--user", user, *scope_args).stdout.strip()


def backend_options(storage: StorageConfig, database: str) -> list[str]:
    """The options of `init` and `migrate` that name `storage` (the bucket) and `database`."""
    prefix = ["--s3-prefix", storage.prefix] if storage.prefix else []
    return [
        "--storage",
        f"s3://{storage.bucket}",
        "--s3-endpoint",
        storage.endpoint or "",
        "--s3-region",
        storage.region or "us-east-1",
        *prefix,
        "--database",
        database,
    ]


def init_cluster(root: Path, storage: StorageConfig, database: str, urls: list[str], *options: str) -> Path:
    """`palletizer init` of a registry over `storage` and `database` served at `urls` (API at the first,
    the rest at the second); its data directory."""
    data = root / "node-template"
    palletizer(
        data,
        "init",
        *backend_options(storage, database),
        "--public-url",
        urls[-1],
        "--api-url",
        urls[0],
        *options,
    )
    return data


def node_command(data: Path, port: int) -> list[str]:
    """The command line of one node."""
    return [str(BIN / "palletizer-all"), "--data", str(data), "--listen", f"127.0.0.1:{port}"]


def crashing_node(step: str) -> Callable[[Path, int], list[str]]:
    """The command line of a node that SIGKILLs itself at `step` of its next publish
    (`tests.support.cluster_crash_server`)."""

    def command(data: Path, port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "tests.support.cluster_crash_server",
            step,
            "--data",
            str(data),
            "--listen",
            f"127.0.0.1:{port}",
        ]

    return command


@contextmanager
def running_cluster(
    root: Path,
    storage: StorageConfig,
    database: str,
    *options: str,
    nodes: int = 2,
    commands: dict[int, Callable[[Path, int], list[str]]] | None = None,
    settings: dict[str, object] | None = None,
) -> Iterator[Cluster]:
    """`nodes` palletizer-all processes over one bucket and one database (`options` go to init; `settings`
    are written into config.yaml after it; `commands` replaces some nodes' command lines, by number)."""
    ports = [free_port() for _ in range(nodes)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    template = init_cluster(root, storage, database, urls, *options)
    if settings:
        config = template / "config.yaml"
        config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), **settings}))
    data = []
    for number in range(nodes):
        copy = root / f"node{number}"
        shutil.copytree(template, copy)
        data.append(copy)
    with ExitStack() as stack:
        processes = [
            stack.enter_context(
                running_process(
                    (commands or {}).get(number, node_command)(copy, port), f"{url}/health", root / f"node-{port}.log"
                )
            )
            for number, (copy, port, url) in enumerate(zip(data, ports, urls, strict=False))
        ]
        yield Cluster(data, urls, processes)
