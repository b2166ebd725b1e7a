"""The stores' SQL as the PostgreSQL backend sends it (placeholders translated; run for real by `make
test-cluster`), and where it says a server is."""

from palletizer_lib.stores.postgres import describe, translate


def test_placeholders_become_psycopg_s_and_percent_signs_are_literal() -> None:
    assert (
        translate("SELECT a FROM t WHERE b = ? AND c LIKE ? ESCAPE '\\'")
        == "SELECT a FROM t WHERE b = %s AND c LIKE %s ESCAPE '\\'"
    )
    assert translate("ORDER BY s.crate != :wanted LIMIT :limit") == "ORDER BY s.crate != %(wanted)s LIMIT %(limit)s"
    assert translate("SELECT 5 % 2, '100%', x::jsonb, '?', ':name'") == "SELECT 5 %% 2, '100%%', x::jsonb, '?', ':name'"


def test_a_server_is_described_without_its_user_or_password() -> None:
    assert describe("postgresql://admin:s3cret@db.internal:5433/registry") == "db.internal:5433/registry"
    assert describe("postgres:///registry") == "localhost/registry"
    assert describe("postgresql://db:port/x") == "(an unreadable database URL)"
