"""How many PostgreSQL connections nodes hold: one per serving thread, shared by every store of the database,
however many requests of every kind run at once."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

from palletizer_lib.settings.storage import StorageConfig
from tests.support.cluster import node_command, running_cluster
from tests.support.cratekit import publish_body

THREADS = 3
NODES = 2


def held_connections(database_url: str) -> int:
    """The connections the nodes hold to the database now."""
    with psycopg.connect(database_url, autocommit=True) as admin:
        ((count,),) = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'palletizer'"
        ).fetchall()
    return count


def test_nodes_hold_one_connection_per_thread_whatever_they_serve(
    tmp_path: Path, s3_config: StorageConfig, postgres_url: str
) -> None:
    def few_threads(data: Path, port: int) -> list[str]:
        return [*node_command(data, port), "--threads", str(THREADS)]

    with running_cluster(tmp_path, s3_config, postgres_url, commands={0: few_threads, 1: few_threads}) as cluster:
        token = cluster.token()

        def publish(number: int) -> int:
            url = cluster.urls[number % NODES]
            return requests.put(
                f"{url}/api/v1/crates/new",
                data=publish_body(f"conn{number}", "0.1.0"),
                headers={"Authorization": token},
                timeout=60,
            ).status_code

        def read(number: int) -> int:
            url = cluster.urls[number % NODES]
            path = (
                "/api/v1/crates?q=conn",
                "/index/co/nn/conn1",
                "/api/v1/crates/conn1/owners",
                "/",
                "/crates/conn1",
                "/me",
                "/git/index/info/refs?service=git-upload-pack",
            )[number % 7]
            return requests.get(f"{url}{path}", headers={"Authorization": token}, timeout=60).status_code

        assert publish(1) == 200
        with ThreadPoolExecutor(12) as pool:
            published = list(pool.map(publish, range(2, 14)))
            statuses = list(pool.map(read, range(70)))
        assert published == [200] * 12 and set(statuses) == {200}
        # each thread of each node: its own, plus the thread that opened the registry at start
        assert 0 < held_connections(postgres_url) <= NODES * (THREADS + 1)
