"""`palletizer migrate`: a registry on one machine moved to a real bucket and a real database, served from
there by a real node (its token still good), then moved back to a new data directory with the same data;
and a target that already holds a registry refused with nothing changed."""

import hashlib
import json
import shutil
from pathlib import Path

import psycopg
import pytest
import requests

from palletizer_lib.core.actor import Actor
from palletizer_lib.core.composition import open_site
from palletizer_lib.disk.layout import Layout
from palletizer_lib.domain.names import index_path
from palletizer_lib.domain.publish_body import encode_publish_body
from palletizer_lib.settings.storage import StorageConfig
from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from palletizer_lib.stores.postgres_tables import PostgresAccounts
from tests.cluster.test_cluster_registry import objects
from tests.support.ceph import CephS3, s3_admin
from tests.support.cluster import backend_options, init_cluster, node_command
from tests.support.cratekit import crate_for, dep, metadata
from tests.support.server import free_port, palletizer, running_process

CRATES = (("alpha", "1.0.0", "# Alpha\n\nthe first"), ("alpha", "1.1.0", None), ("Beta_Crate", "0.1.0", "# Beta"))


def migrate_options(storage: StorageConfig, database: str) -> list[str]:
    return ["migrate", *backend_options(storage, database)]


def make_local_registry(data: Path, url: str) -> str:
    """A registry on local disk served at `url`: alpha (1.0.0 yanked) and Beta_Crate (depending on alpha),
    published by alice with a token, bob added as an owner of Beta_Crate, downloads counted; alice's token."""
    palletizer(data, "init", "--public-url", url)
    site = open_site(data)
    site.accounts.add_user("alice")
    site.accounts.add_user("bob")
    token = site.accounts.create_token("alice", ("publish", "yank", "owners", "read"))[1]
    alice = Actor.user(site.accounts.authenticate(token), "192.0.2.7")
    for name, version, readme in CRATES:
        meta = metadata(
            name,
            version,
            readme=readme,
            description=f"{name} {version}, described",
            deps=[dep("alpha", "^1")] if name == "Beta_Crate" else [],
        )
        site.operations.publish(alice, meta, crate_for(meta, index_url=f"sparse+{url}/index/"))
    site.operations.set_yanked(alice, "alpha", "1.0.0", True)
    site.operations.change_owners(alice, "Beta_Crate", ["bob"], True)
    site.catalog.add_downloads({("alpha", "1.0.0"): 2, ("alpha", "1.1.0"): 5, ("beta-crate", "0.1.0"): 1})
    return token


def snapshot(data: Path) -> dict:
    """Everything a registry holds, read through its public interfaces."""
    site = open_site(data)
    registry, accounts, catalog = site.registry, site.accounts, site.catalog
    index = {path: registry.log.blob(blob_id) for path, blob_id in registry.log.files()}
    crates = {key: hashlib.sha256(registry.crates.get(key)).hexdigest() for key in registry.crates.list()}
    names = sorted(summary.name for summary in registry.summaries())
    return {
        "index": index,
        "crates": crates,
        "users": accounts.users(),
        "tokens": [(t.id, t.user, t.scopes, t.created, t.expires, t.revoked) for t in accounts.tokens()],
        "owners": {name: accounts.owners(name) for name in names},
        "audit": accounts.audit(1000),
        "versions": {name: catalog.versions(name) for name in names},
        "readmes": {(name, vers): catalog.readme_html(name, vers) for name in names for vers in catalog.versions(name)},
        "downloads": {name: catalog.version_downloads(name) for name in names},
        "search": registry.search("described", 10),
        "reverse_dependencies": [
            (d.name, d.entry["vers"], d.dependency["req"]) for d in registry.dependents("alpha", 10)[1]
        ],
    }


def directory_files(data: Path) -> dict[str, bytes]:
    """The files of a data directory, SQLite's left out (compared through `snapshot`: their bytes change as
    SQLite checkpoints)."""
    return {
        str(path.relative_to(data)): path.read_bytes()
        for path in sorted(data.rglob("*"))
        if path.is_file() and ".sqlite3" not in path.name
    }


def publish(url: str, token: str, name: str, version: str) -> requests.Response:
    meta = metadata(name, version)
    body = encode_publish_body(meta, crate_for(meta))
    return requests.put(f"{url}/api/v1/crates/new", data=body, headers={"Authorization": token}, timeout=60)


def test_a_local_registry_moves_to_the_cluster_is_served_there_and_moves_back(
    tmp_path: Path, s3_config: StorageConfig, postgres_url: str
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path / "registry"
    token = make_local_registry(data, url)
    before = snapshot(data)
    assert before["reverse_dependencies"] == [("Beta_Crate", "0.1.0", "^1")]
    local_files = directory_files(data)

    moved = palletizer(data, *migrate_options(s3_config, postgres_url))
    assert "copied 3 crate files, 3 index files" in moved.stderr
    assert "is left as it was" in moved.stderr
    assert palletizer(data, "verify").returncode == 0
    assert snapshot(data) == before
    log = open_site(data).registry.log
    assert log.head() == b"1"
    assert [change.message for change in log.changes_after(0, 10)] == [f"Import the index of the data directory {data}"]
    config = (data / "config.yaml").read_text()
    assert f"s3://{s3_config.bucket}" in config and postgres_url in config
    left = directory_files(data)
    for name, content in local_files.items():
        if name != "config.yaml":
            assert left[name.replace("index.git/", "index.git.before-migrate/", 1)] == content, name
    assert Accounts(Layout(data).accounts).users() == ["alice", "bob"]
    assert Catalog(Layout(data).catalog).versions("alpha") == before["versions"]["alpha"]

    node = tmp_path / "node"
    shutil.copytree(
        data,
        node,
        ignore=shutil.ignore_patterns("index.git.before-migrate", "crates", "index", "names", "*.sqlite3*", "lock"),
    )
    with running_process(node_command(node, port), f"{url}/health", tmp_path / "node.log"):
        served = requests.get(f"{url}/index/{index_path('alpha')}", timeout=10)
        assert served.status_code == 200
        assert served.content == before["index"][index_path("alpha")]
        assert [json.loads(line)["yanked"] for line in served.text.splitlines()] == [True, False]
        download = requests.get(f"{url}/files/Beta_Crate/Beta_Crate-0.1.0.crate", timeout=10)
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == before["crates"]["Beta_Crate/Beta_Crate-0.1.0.crate"]
        owners = requests.get(f"{url}/api/v1/crates/beta_crate/owners", headers={"Authorization": token}, timeout=10)
        assert owners.status_code == 200, owners.text
        assert sorted(user["login"] for user in owners.json()["users"]) == ["alice", "bob"]
        published = publish(url, token, "alpha", "1.2.0")
        assert published.status_code == 200, published.text
        assert publish(url, "pltz_not-a-token", "alpha", "1.3.0").status_code == 401
        palletizer(node, "user", "add", "carol")
        carol = palletizer(node, "token", "create", "--user", "carol").stdout.strip()
        assert publish(url, carol, "gamma", "0.1.0").status_code == 200
    on_cluster = snapshot(node)
    assert on_cluster["users"] == ["alice", "bob", "carol"]
    assert on_cluster["tokens"][:1] == before["tokens"] and on_cluster["tokens"][1][1] == "carol"
    assert on_cluster["audit"][: len(before["audit"])] == before["audit"]
    assert [entry.version for entry in on_cluster["audit"][len(before["audit"]) :]] == ["1.2.0", "0.1.0"]

    back = tmp_path / "back"
    shutil.copytree(node, back)
    returned = palletizer(back, "migrate", "--local")
    assert "copied 5 crate files, 4 index files" in returned.stderr
    assert palletizer(back, "verify").returncode == 0
    assert "storage" not in (back / "config.yaml").read_text()
    assert "former git index is now" in returned.stderr and (back / "index.git.before-migrate").is_dir()
    assert snapshot(back) == on_cluster
    local = open_site(back)
    assert local.accounts.authenticate(token).user == "alice" and local.accounts.authenticate(carol).user == "carol"
    head = local.registry.log.head()
    assert local.registry.log.message(head).startswith(f"Import the index of s3://{s3_config.bucket}/reg/ with ")
    assert local.registry.log.history_length(10) == 1
    assert palletizer(node, "verify").returncode == 0
    assert snapshot(node) == on_cluster


def database_rows(url: str) -> dict[str, int]:
    """How many rows each table of the database at `url` holds, empty tables and the schema versions left out
    (a database without the registry's tables may be given them, empty, at their newest versions)."""
    with psycopg.connect(url, autocommit=True) as db:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename != 'schema_version'"
            )
        ]
        counts = {table: db.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in sorted(tables)}
    return {table: count for table, count in counts.items() if count}


@pytest.mark.parametrize("held", ["a registry", "an object", "a user"])
def test_a_target_already_holding_something_is_refused_and_nothing_changes(
    tmp_path: Path, s3_config: StorageConfig, s3_credentials: CephS3, postgres_url: str, held: str
) -> None:
    if held == "a registry":
        init_cluster(tmp_path, s3_config, postgres_url, ["http://127.0.0.1:9"])
    elif held == "an object":
        s3_admin(s3_credentials).put_object(Bucket=s3_config.bucket, Key=f"{s3_config.prefix}notes.txt", Body=b"x")
    else:
        PostgresAccounts(postgres_url).add_user("someone")
    data = tmp_path / "registry"
    make_local_registry(data, "http://127.0.0.1:9")
    files, stored, rows = directory_files(data), objects(s3_credentials, s3_config), database_rows(postgres_url)
    before = snapshot(data)

    refused = palletizer(data, *migrate_options(s3_config, postgres_url), check=False)
    assert refused.returncode == 1
    assert "already holds a registry" in refused.stderr and "nothing was changed" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert directory_files(data) == files
    assert objects(s3_credentials, s3_config) == stored
    assert database_rows(postgres_url) == rows
    assert snapshot(data) == before
    assert palletizer(data, "verify").returncode == 0


def test_migrating_back_into_a_directory_holding_a_registrys_files_is_refused(
    tmp_path: Path, s3_config: StorageConfig, s3_credentials: CephS3, postgres_url: str
) -> None:
    data = tmp_path / "registry"
    make_local_registry(data, "http://127.0.0.1:9")
    palletizer(data, *migrate_options(s3_config, postgres_url))
    again = palletizer(data, "migrate", "--local", check=False)
    assert again.returncode == 1 and "index.git.before-migrate is left from an earlier migration" in again.stderr

    node = tmp_path / "node"
    shutil.copytree(data, node, ignore=shutil.ignore_patterns("index.git.before-migrate"))
    files, stored, rows = directory_files(node), objects(s3_credentials, s3_config), database_rows(postgres_url)
    refused = palletizer(node, "migrate", "--local", check=False)
    assert refused.returncode == 1
    assert "already holds a registry" in refused.stderr and "nothing was changed" in refused.stderr
    assert directory_files(node) == files
    assert objects(s3_credentials, s3_config) == stored
    assert database_rows(postgres_url) == rows
