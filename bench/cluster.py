"""Benchmark 9: the registry on several machines, over a throwaway Ceph cluster (radosgw) and PostgreSQL 15.

Benchmark 3's graph of crates is published to a local registry, to two nodes over one bucket and one
database, and to one node whose bucket cargo reads directly (`--s3-direct-reads`), then:

a. the local registry's index files, and crates of 10 KiB and 1 MiB, written to a bucket of their own by the
   S3 stores and served straight from it (anonymous GETs after `publish_prefixes`) vs nginx serving the same
   files from disk, both loaded by wrk;
b. publish latency through the web API: `palletizer-all` over the local data directory vs the first node,
   the same new crates published to both;
c. real cargo's cold resolve + fetch through the second node's sparse index, straight from the bucket of a
   registry with `direct_reads` (its index and crate files), and from `palletizer-all` over the local data
   directory, vs nginx serving that directory as a static sparse registry;
d. a new node's git replica: written from a change log compacted at its squash points vs replayed from the
   same log kept whole, both holding REPLICA_CRATES crates published REPLICA_ROUNDS times each.
"""

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench.cargo_resolution import CRATES as GRAPH_CRATES
from bench.cargo_resolution import VERSIONS as GRAPH_VERSIONS
from bench.cargo_resolution import build_graph, publish_graph, resolve
from bench.common import (
    Context,
    alternate,
    free_port,
    median,
    nginx,
    palletizer,
    ratio_rows,
    report,
    static_config_json,
    static_registry_config,
    wrk,
)
from bench.downloads import sized_crate
from bench.index_serving import index_paths
from bench.seed import crate_names, entry_metadata
from palletizer_lib.core.registry import Registry
from palletizer_lib.domain.index_entry import dump_lines, entry_from_metadata
from palletizer_lib.domain.names import index_path, normalise
from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.settings.storage import StorageConfig
from palletizer_lib.stores.git_index import GitIndex
from palletizer_lib.stores.git_replica import GitReplica
from palletizer_lib.stores.postgres_index import SERVED_HEAD, PgIndex, PgIndexLog
from palletizer_lib.stores.s3 import open_s3_stores, publish_prefixes
from tests.support.ceph import CephS3, credentials_environment, running_ceph, s3_admin
from tests.support.cluster import Cluster, running_cluster
from tests.support.cratekit import crate_for
from tests.support.postgres import PostgresServer, running_postgres
from tests.support.server import issue_token

SIZES = {"10 KiB": 10 * 1024, "1 MiB": 1024 * 1024}
REPLICA_CRATES, REPLICA_ROUNDS = 600, 3
CONNECTIONS = 8
PER_ROUND = 4


def run(ctx: Context) -> None:
    """Start Ceph and PostgreSQL, publish the graph locally, then measure the bucket's serving, publishing and
    cargo."""
    print("starting Ceph (radosgw) and PostgreSQL...", flush=True)
    started = time.monotonic()
    with (
        running_ceph(ctx.work / "ceph") as ceph,
        running_postgres() as postgres,
        environment(credentials_environment(ceph, ctx.work)),
    ):
        print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
        print(f"publishing the cargo graph ({GRAPH_CRATES} crates x {len(GRAPH_VERSIONS)}) locally...", flush=True)
        started = time.monotonic()
        local = ctx.work / "cluster-local" / "data"
        names = build_graph(local)
        print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
        bucket_serving(ctx, ceph, local)
        cluster_publish_and_cargo(ctx, ceph, postgres, local, names)
        new_replica(ctx, postgres)


@contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """`os.environ` with `values` set (None: removed), restored afterwards; the servers started meanwhile
    inherit it."""
    saved = dict(os.environ)
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def new_bucket(ceph: CephS3) -> StorageConfig:
    """A fresh bucket on the gateway, its registry under a prefix."""
    name = f"bench-{uuid.uuid4().hex[:16]}"
    s3_admin(ceph).create_bucket(Bucket=name)
    return ceph.config(name, prefix="reg/")


def bucket_serving(ctx: Context, ceph: CephS3, data: Path) -> None:
    """Requests and MB per second at CONNECTIONS connections: the index files of the registry in `data` and
    crates of each of SIZES, from a bucket (anonymous GETs) and from nginx over the same bytes."""
    keys = [path.removeprefix("/index/") for path in index_paths(data)]
    files = ctx.work / "cluster-files"
    storage = new_bucket(ceph)
    crate_store, served = open_s3_stores(storage)
    print(f"uploading {len(keys)} index files and {len(SIZES)} crates to the bucket...", flush=True)
    for key in keys:
        served.put(key, (data / "index" / key).read_bytes())
    crates = {}
    for label, size in SIZES.items():
        name = f"size-{size}"
        key = f"{name}/{name}-1.0.0.crate"
        crate = sized_crate(name, size)
        (files / name).mkdir(parents=True)
        (files / key).write_bytes(crate)
        crate_store.put(key, crate)
        crates[label] = (key, len(crate))
    publish_prefixes(storage)
    index_root, crates_root = urlsplit(storage.public_index_url).path, urlsplit(storage.public_crates_url).path
    cases = {
        "index files": ([index_root + key for key in keys], [f"/index/{key}" for key in keys]),
        **{f"{label} crate": ([crates_root + key], [f"/crates/{key}"]) for label, (key, _) in crates.items()},
    }
    sizes = [(data / "index" / key).stat().st_size for key in keys]
    mean_bytes = {
        "index files": sum(sizes) / len(sizes),
        **{f"{label} crate": size for label, (_, size) in crates.items()},
    }
    port = free_port()
    rows, details = [], {"connections": CONNECTIONS, "index_files": len(keys), "runs": []}
    with nginx(static_files_config(port, data, files), port) as theirs:
        bases = {"bucket": storage.endpoint, "nginx": theirs.url}
        for case, (bucket_paths, nginx_paths) in cases.items():
            paths = {"bucket": bucket_paths, "nginx": nginx_paths}
            for side, base in bases.items():  # the same bytes on both sides, and a warm-up
                answer = requests.get(base + paths[side][0], timeout=30)
                assert answer.status_code == 200, (side, answer.status_code, answer.text[:200])
                assert answer.content == requests.get(theirs.url + nginx_paths[0], timeout=30).content, side
                wrk(base, CONNECTIONS, 1, paths[side])
            loads = alternate(
                {
                    side: (lambda side=side, paths=paths: wrk(bases[side], CONNECTIONS, ctx.seconds, paths[side]))
                    for side in bases
                },
                ctx.repetitions,
            )
            for side, runs in loads.items():
                assert all(load.errors == 0 and load.requests > 0 for load in runs), (side, runs)
            rps = {side: median([load.requests_per_second for load in runs]) for side, runs in loads.items()}
            mbps = {side: median([load.megabytes_per_second for load in runs]) for side, runs in loads.items()}
            p50 = {side: median([load.p50_ms for load in runs]) for side, runs in loads.items()}
            rows.append(
                [
                    case,
                    round(mean_bytes[case]),
                    rps["bucket"],
                    rps["nginx"],
                    mbps["bucket"],
                    mbps["nginx"],
                    rps["bucket"] / rps["nginx"],
                    p50["bucket"],
                    p50["nginx"],
                ]
            )
            details["runs"].append(
                {"case": case, **{side: [vars(load) for load in runs] for side, runs in loads.items()}}
            )
    report(
        ctx.out,
        "9a-cluster-bucket-serving",
        f"9a. Straight from the bucket (radosgw, anonymous GETs) vs nginx from disk, {CONNECTIONS} connections, "
        f"median of {ctx.repetitions} x {ctx.seconds:g} s (wrk)",
        [
            "files",
            "bytes",
            "bucket req/s",
            "nginx req/s",
            "bucket MB/s",
            "nginx MB/s",
            "bucket/nginx",
            "bucket p50 ms",
            "nginx p50 ms",
        ],
        rows,
        details,
    )


def static_files_config(port: int, data: Path, files: Path) -> str:
    """nginx serving `data`'s index files under `/index/` and the crate files in `files` under `/crates/`."""
    return (
        f"    server {{\n        listen 127.0.0.1:{port};\n"
        f"        location /index/ {{ alias {data}/index/; }}\n"
        f"        location /crates/ {{ alias {files}/; }}\n"
        "        location = / { return 204; }\n"
        "    }\n"
    )


def cluster_publish_and_cargo(
    ctx: Context, ceph: CephS3, postgres: PostgresServer, local: Path, names: list[str]
) -> None:
    """The graph (`names`, already in the registry in `local`) published to a two-node cluster and to a
    one-node registry whose bucket cargo reads directly (`--s3-direct-reads`); publishes of the same new crates
    to the cluster and the local registry, then cargo's cold resolve over each (and nginx over the local
    files)."""
    (ctx.work / "cluster-nodes").mkdir()
    (ctx.work / "cluster-direct").mkdir()
    static_port = free_port()
    config_json = ctx.work / "bench9-config.json"
    config_json.write_bytes(static_config_json(f"http://127.0.0.1:{static_port}"))
    direct = new_bucket(ceph)
    with (
        running_cluster(ctx.work / "cluster-nodes", new_bucket(ceph), postgres.create_database()) as cluster,
        running_cluster(
            ctx.work / "cluster-direct", direct, postgres.create_database(), "--s3-direct-reads", nodes=1
        ) as direct_node,
        palletizer(local) as ours,
        nginx(static_registry_config(static_port, local, config_json), static_port) as static,
    ):
        print(
            f"publishing the cargo graph ({GRAPH_CRATES} crates x {len(GRAPH_VERSIONS)}) to the cluster and "
            "the direct-read registry...",
            flush=True,
        )
        started = time.monotonic()
        publish_graph(Registry(cluster.data[0]))
        publish_graph(Registry(direct_node.data[0]))
        print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
        read_config = requests.get(direct.public_index_url + "config.json", timeout=10).json()
        assert read_config["dl"].startswith(direct.public_crates_url), read_config
        publish(ctx, names, cluster, ours.url, issue_token(local))
        cargo(
            ctx,
            names,
            {
                "cluster (second node)": f"{cluster.urls[1]}/index/",
                "bucket (direct reads)": direct.public_index_url,
                "palletizer-all (one node)": f"{ours.url}/index/",
                "nginx (static)": f"{static.url}/index/",
            },
        )


def cargo(ctx: Context, names: list[str], urls: dict[str, str]) -> None:
    """Median wall time of cargo's cold resolve + fetch over each of the sparse index `urls`, as benchmark 3
    measures it."""
    repetitions = 2 * ctx.repetitions + 1
    runs = iter(range(1_000_000))
    sides = {
        side: (lambda url=url: resolve(ctx.work / f"cluster-cargo-{next(runs)}", f"sparse+{url}", names))
        for side, url in urls.items()
    }
    for measure in sides.values():  # warm-up (the servers' caches; cargo's own are fresh every time)
        measure()
    times = alternate(sides, repetitions)
    rows = ratio_rows(times, "nginx (static)")
    report(
        ctx.out,
        "9c-cluster-cargo",
        f"9c. cargo generate-lockfile + fetch, empty CARGO_HOME, {GRAPH_CRATES} crates "
        f"({len(GRAPH_VERSIONS)} versions each), median of {repetitions}",
        ["setup", "median s", "min s", "max s", "x nginx"],
        rows,
        {"crates": GRAPH_CRATES, "versions": len(GRAPH_VERSIONS), "seconds": times},
    )


def publish(ctx: Context, graph: list[str], cluster: Cluster, local_url: str, local_token: str) -> None:
    """Median latency of a publish through the web API: one node over its data directory, and the cluster's
    first node over S3 + PostgreSQL, the same crates to each (PER_ROUND a round, the sides alternating)."""
    taken = {normalise(name) for name in graph}
    fresh = (name for name in crate_names(len(graph) + 1000, seed=29) if normalise(name) not in taken)
    bodies = []
    for _ in range((ctx.repetitions + 1) * PER_ROUND):
        meta = entry_metadata(next(fresh), "1.0.0", [])
        bodies.append(encode_publish_body(meta, crate_for(meta)))
    targets = {
        "one node (data directory)": (local_url, local_token),
        "cluster (S3 + PostgreSQL)": (cluster.urls[0], cluster.token()),
    }
    queues = {side: iter(bodies) for side in targets}
    took: dict[str, list[float]] = {side: [] for side in targets}

    def round_of(side: str) -> None:
        url, token = targets[side]
        with requests.Session() as session:
            for _ in range(PER_ROUND):
                body = next(queues[side])
                started = time.perf_counter()
                answer = session.put(
                    f"{url}/api/v1/crates/new", data=body, timeout=60, headers={"Authorization": token}
                )
                took[side].append(time.perf_counter() - started)
                assert answer.status_code == 200, (side, answer.status_code, answer.text)

    for side in targets:  # warm-up (not counted)
        round_of(side)
        took[side].clear()
    alternate({side: (lambda side=side: round_of(side)) for side in targets}, ctx.repetitions)
    ms = {side: [seconds * 1000 for seconds in values] for side, values in took.items()}
    rows = ratio_rows(ms, "one node (data directory)")
    report(
        ctx.out,
        "9b-cluster-publish",
        f"9b. Publish latency through the web API (ms), registries holding the cargo graph, median of "
        f"{ctx.repetitions * PER_ROUND} publishes ({PER_ROUND} a round, alternating)",
        ["setup", "median ms", "min ms", "max ms", "x one node"],
        rows,
        {"ms": ms},
    )


def new_replica(ctx: Context, postgres: PostgresServer) -> None:
    """Seconds for a new git replica to catch up with a log of REPLICA_CRATES x REPLICA_ROUNDS changes
    (squashed at its last change but one), compacted or kept whole; the sides alternate."""
    changes = REPLICA_CRATES * REPLICA_ROUNDS
    print(f"filling two change logs with {changes} changes...", flush=True)
    logs = {
        side: filled_log(PgIndex(postgres.create_database()), squash_every)
        for side, squash_every in (("compacted log", changes - 1), ("whole log, every change replayed", None))
    }
    runs, heads = iter(range(2 * ctx.repetitions)), set()

    def catch_up(side: str) -> float:
        path = ctx.work / "replicas" / f"{next(runs)}"
        path.mkdir(parents=True)
        replica = GitReplica(GitIndex.create(path / "index.git"), path / "replica.lock", changes - 1)
        started = time.perf_counter()
        replica.catch_up(logs[side])
        took = time.perf_counter() - started
        heads.add(replica.git.head())
        return took

    seconds = alternate({side: (lambda side=side: catch_up(side)) for side in logs}, ctx.repetitions)
    assert len(heads) == 1, f"the replicas differ: {heads}"
    report(
        ctx.out,
        "9d-new-replica",
        f"9d. A new node's git replica of {REPLICA_CRATES} crates after {changes} changes (s), median of "
        f"{ctx.repetitions}",
        ["log", "median s", "min s", "max s", "x compacted"],
        ratio_rows(seconds, "compacted log"),
        {"crates": REPLICA_CRATES, "changes": changes, "seconds": seconds},
    )


def filled_log(index: PgIndex, squash_every: int | None) -> PgIndexLog:
    """A log over `index` where REPLICA_CRATES crates were each published REPLICA_ROUNDS times, each change
    served at once and dated the same (so that logs filled alike give replicas the same commits)."""
    log = PgIndexLog(index, lambda: 1_700_000_000.0, squash_every=squash_every)
    names = crate_names(REPLICA_CRATES, seed=31)
    entries: dict[str, list[dict]] = {name: [] for name in names}
    for round_ in range(REPLICA_ROUNDS):
        for name in names:
            entries[name].append(entry_from_metadata(entry_metadata(name, f"{round_}.0.0", []), "0" * 64))
            position = log.commit({index_path(name): dump_lines(entries[name])}, f"Publish {name} {round_}.0.0")
            index.set_state(SERVED_HEAD, position.decode() + "\n")
    return log
