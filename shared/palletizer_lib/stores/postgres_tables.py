"""The accounts, the catalog, the search table and the reverse dependencies in one PostgreSQL database, for
registries that run on several nodes: the same classes, over the same schemas (`migrations`), as the SQLite
stores over `PostgresStore`, with only what PostgreSQL spells differently in their queries here (JSON access,
the trigram search and NULL ordering).
"""

from palletizer_lib.stores.accounts import Accounts
from palletizer_lib.stores.catalog import Catalog
from palletizer_lib.stores.postgres import PostgresStore
from palletizer_lib.stores.reverse_dependencies import ReverseDependencies
from palletizer_lib.stores.search_index import SearchIndex, like_pattern
from palletizer_lib.stores.sql import Connection

_ACCOUNTS_LOCK = 1
_CATALOG_LOCK = 2  # the catalog's, the search table's and the reverse dependencies': they share tables


class PostgresAccounts(PostgresStore, Accounts):
    """The accounts of a registry in PostgreSQL."""

    lock_key = _ACCOUNTS_LOCK


class PostgresCatalog(PostgresStore, Catalog):
    """The catalog of a registry (with its search table) in PostgreSQL."""

    lock_key = _CATALOG_LOCK
    _tagged_sql = (
        "SELECT DISTINCT v.crate FROM versions v, "
        "jsonb_path_query(CAST(v.metadata AS jsonb), 'lax $.{field}[*]') t "
        "WHERE jsonb_typeof(t) = 'string' AND lower(t #>> '{{}}') = lower(CAST(? AS TEXT))"
    )

    @staticmethod
    def _text_field(key: str) -> str:
        return (
            f"(CASE jsonb_typeof(CAST(metadata AS jsonb) -> '{key}') "
            f"WHEN 'string' THEN CAST(metadata AS jsonb) ->> '{key}' END)"
        )


class PostgresSearchIndex(PostgresStore, SearchIndex):
    """The search table of a registry in PostgreSQL; a substring is looked for with LIKE, which the trigram
    indexes (pg_trgm) serve for three characters or more."""

    lock_key = _CATALOG_LOCK
    _json_list_sql = "SELECT jsonb_array_elements_text(CAST(:keys AS jsonb))"
    _newest_first = "s.published DESC NULLS LAST"

    @staticmethod
    def _keys(db: Connection, column: str, text: str) -> set[str]:
        rows = db.execute(f"SELECT key FROM crate_text WHERE {column} LIKE ? ESCAPE '\\'", (like_pattern(text),))
        return {row[0] for row in rows}


class PostgresReverseDependencies(PostgresStore, ReverseDependencies):
    """The reverse dependencies of a registry's crates in PostgreSQL."""

    lock_key = _CATALOG_LOCK


def open_pg_stores(
    url: str,
) -> tuple[PostgresAccounts, PostgresCatalog, PostgresSearchIndex, PostgresReverseDependencies]:
    """The accounts, the catalog, the search table and the reverse dependencies of the registry in the
    database at `url` (a `postgresql://` URL), their schemas migrated to their newest versions."""
    return (PostgresAccounts(url), PostgresCatalog(url), PostgresSearchIndex(url), PostgresReverseDependencies(url))
