"""The registry's schemas, each as its ordered migrations (see `schema`), written once for SQLite and
PostgreSQL: the accounts (`accounts.sqlite3`), the catalog with its download counts, search table and reverse
dependencies (`catalog.sqlite3`), and, in PostgreSQL only, the index of a registry on several nodes. In
PostgreSQL the three share one database, each with its own row in `schema_version`.

Migration 1 of each creates what is missing, so that it also adopts a database made before versions were
recorded. A later migration is appended, never edited once released.
"""

from palletizer_lib.stores.schema import Schema

ACCOUNTS = Schema(
    "accounts",
    (
        """
    CREATE TABLE IF NOT EXISTS users (
        id {id},
        name {key} NOT NULL UNIQUE,
        created {real} NOT NULL
    );
    CREATE TABLE IF NOT EXISTS tokens (
        id {id},
        user_id {integer} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        hash TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        created {real} NOT NULL,
        expires {real},
        revoked {real}
    );
    CREATE INDEX IF NOT EXISTS tokens_by_user ON tokens (user_id);
    CREATE TABLE IF NOT EXISTS owners (
        crate {key} NOT NULL,
        user_id {integer} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        PRIMARY KEY (crate, user_id)
    );
    CREATE INDEX IF NOT EXISTS owners_by_user ON owners (user_id);
    CREATE TABLE IF NOT EXISTS audit (
        id {id},
        time {real} NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        crate TEXT,
        version TEXT,
        address TEXT,
        detail TEXT
    )
    """,
    ),
)

CATALOG = Schema(
    "catalog",
    (
        """
    CREATE TABLE IF NOT EXISTS versions (
        crate {key} NOT NULL,
        vers {key} NOT NULL,
        name TEXT NOT NULL,
        published {real} NOT NULL,
        publisher TEXT,
        metadata TEXT NOT NULL,
        PRIMARY KEY (crate, vers)
    );
    CREATE INDEX IF NOT EXISTS versions_by_time ON versions (published);
    CREATE TABLE IF NOT EXISTS readmes (
        crate {key} NOT NULL,
        vers {key} NOT NULL,
        html TEXT NOT NULL,
        PRIMARY KEY (crate, vers)
    );
    CREATE TABLE IF NOT EXISTS downloads (
        crate {key} NOT NULL,
        vers {key} NOT NULL,
        count {integer} NOT NULL,
        PRIMARY KEY (crate, vers)
    );
    CREATE TABLE IF NOT EXISTS crate_search (
        id {id},
        crate {key} NOT NULL UNIQUE,
        name {key} NOT NULL,
        max_version TEXT NOT NULL,
        description TEXT NOT NULL,
        published {real}
    );
    CREATE INDEX IF NOT EXISTS crate_search_by_recency ON crate_search (published {desc_nulls_last}, lower(name));
    CREATE INDEX IF NOT EXISTS crate_search_by_name ON crate_search (lower(name));
    {crate_text};
    CREATE TABLE IF NOT EXISTS crate_search_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS reverse_dependencies (
        dependency {key} NOT NULL,
        crate {key} NOT NULL,
        name {key} NOT NULL,
        dep TEXT NOT NULL,
        version TEXT NOT NULL,
        PRIMARY KEY (dependency, crate)
    );
    CREATE INDEX IF NOT EXISTS reverse_dependencies_by_crate ON reverse_dependencies (crate);
    CREATE TABLE IF NOT EXISTS reverse_dependencies_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)
    """,
    ),
)

INDEX = Schema(
    "index",
    (
        """
    CREATE TABLE IF NOT EXISTS index_files (
        path {key} PRIMARY KEY,
        content BYTEA NOT NULL,
        modified {real} NOT NULL
    );
    CREATE TABLE IF NOT EXISTS index_changes (
        position {integer} PRIMARY KEY,
        made {integer} NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS index_change_files (
        position {integer} NOT NULL REFERENCES index_changes(position),
        path {key} NOT NULL,
        content BYTEA,
        PRIMARY KEY (position, path)
    );
    CREATE INDEX IF NOT EXISTS index_change_files_by_path ON index_change_files (path, position);
    CREATE TABLE IF NOT EXISTS crate_summaries (
        key {key} PRIMARY KEY,
        name {key} NOT NULL,
        max_version TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS registry_state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        writes {integer} NOT NULL DEFAULT 0
    )
    """,
    ),
)
