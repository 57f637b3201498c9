"""schemas/clickhouse/server/access.sql: parsed by ClickHouse's own parser, exact grants.

The embedded engine refuses access-control statements (ACCESS_DENIED), so these tests do not
run the file: each statement goes through ``formatQuery`` in chdb (ClickHouse's parser and
formatter), and the grants, read from the formatted statements, must cover exactly the tables
of the registry (pipelines/warehouse/tables.py) by layer.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from pipelines.connectors.warehouse import Warehouse
from pipelines.deploy.access import ACCESS_SQL, access_statements
from pipelines.errors import WarehouseError
from pipelines.load.kafka_records import TOPIC_TABLES
from pipelines.warehouse.close import ADJUSTMENTS, CLOSES, STATEMENTS
from pipelines.warehouse.ledger import LEDGER
from pipelines.warehouse.migrations import MIGRATIONS_DIR, load_migrations
from pipelines.warehouse.rollups import PAYOUTS
from pipelines.warehouse.tables import TABLES

pytestmark = pytest.mark.integration

DATABASE = "pulse"
ROLES = ("pulse_analyst", "pulse_finance", "pulse_loader")
#: tables outside the registry a role may name: the migration bookkeeping, the payout staging
BOOKKEEPING = {"schema_migrations", f"_stage_{PAYOUTS}_*", "*"}
GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<db>\w+)\.(?P<table>[\w*]+) TO (?P<to>.+)$")


def _literal(sql: str) -> str:
    return "'" + sql.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _format(wh: Warehouse, statement: str) -> str:
    _names, rows = wh.query_rows(f"SELECT formatQuery({_literal(statement)})")
    return str(rows[0][0])


@pytest.fixture
def formatted(warehouse: Warehouse) -> list[str]:
    """Every statement of access.sql as ClickHouse formats it (proof that it parses)."""
    return [_format(warehouse, statement) for statement in access_statements(DATABASE)]


def _grants(formatted: list[str]) -> dict[str, dict[str, set[str]]]:
    """role -> privilege -> tables (database checked)."""
    grants: dict[str, dict[str, set[str]]] = {role: defaultdict(set) for role in ROLES}
    for statement in formatted:
        match = GRANT.match(statement)
        if not match:
            continue
        assert match["db"] == DATABASE, statement
        for role in (r.strip() for r in match["to"].split(",")):
            for privilege in (p.strip() for p in match["privileges"].split(",")):
                grants[role][privilege].add(match["table"])
    return grants


def _layer(*prefixes: str) -> set[str]:
    return {name for name in TABLES if name.startswith(prefixes)}


def test_every_statement_parses_in_clickhouse(formatted: list[str]) -> None:
    kinds = {statement.split(" ")[0] for statement in formatted}
    assert kinds == {"CREATE", "REVOKE", "GRANT"}
    assert sum(s.startswith("CREATE ROLE") for s in formatted) == len(ROLES)
    assert any(
        s.startswith("CREATE SETTINGS PROFILE") and "readonly = 2 CONST" in s for s in formatted
    )
    assert any(s.startswith("CREATE QUOTA") and s.endswith("TO pulse_analyst") for s in formatted)


def test_the_parser_is_real(warehouse: Warehouse) -> None:
    with pytest.raises(WarehouseError):
        _format(warehouse, "GRANT SELEC ON pulse.fct_attributed_clicks TO pulse_analyst")


def test_analysts_read_facts_rollups_dimensions_and_no_raw_payloads(formatted: list[str]) -> None:
    analyst = _grants(formatted)["pulse_analyst"]
    assert set(analyst) == {"SELECT"}
    assert analyst["SELECT"] == _layer("fct_", "agg_", "dim_")
    assert not analyst["SELECT"] & _layer("raw_")


def test_finance_reads_payouts_and_statements_and_runs_the_close(formatted: list[str]) -> None:
    finance = _grants(formatted)["pulse_finance"]
    books = {STATEMENTS, CLOSES, ADJUSTMENTS}
    assert books <= set(TABLES)
    assert set(finance) == {"SELECT", "INSERT", "ALTER DELETE"}
    traced = {PAYOUTS, "fct_attributed_clicks", "fct_eligibility", LEDGER}
    assert finance["SELECT"] == traced | books
    assert finance["INSERT"] == books
    assert finance["ALTER DELETE"] == {STATEMENTS}  # orphans of an interrupted close


def test_loader_inserts_exactly_into_the_tables_it_loads(formatted: list[str]) -> None:
    loader = _grants(formatted)["pulse_loader"]
    registry_inserts = loader["INSERT"] & set(TABLES)
    # ...and the adjustments it books when a click batch touched a closed month
    assert registry_inserts == set(TOPIC_TABLES.values()) | {PAYOUTS, ADJUSTMENTS}
    for privilege, tables in loader.items():
        assert tables <= set(TABLES) | BOOKKEEPING, (privilege, tables)
    assert loader["ALTER DELETE"] == {PAYOUTS}
    assert loader["SELECT"] & set(TABLES) == {
        "fct_attributed_clicks",
        PAYOUTS,
        CLOSES,
        STATEMENTS,
        ADJUSTMENTS,
    }


def test_grants_name_only_registry_tables_and_cover_all_of_them(formatted: list[str]) -> None:
    named: set[str] = set()
    for privileges in _grants(formatted).values():
        for tables in privileges.values():
            named |= tables
    assert named - BOOKKEEPING <= set(TABLES)
    assert set(TABLES) <= named


def test_revokes_first_so_reapplying_sets_exactly_these_grants(formatted: list[str]) -> None:
    first_grant = next(i for i, s in enumerate(formatted) if s.startswith("GRANT"))
    revoked = {s.rsplit(" ", 1)[1] for s in formatted[:first_grant] if s.startswith("REVOKE ALL")}
    assert revoked == set(ROLES)


def test_the_access_file_is_not_a_migration() -> None:
    assert ACCESS_SQL.parent.parent == MIGRATIONS_DIR
    paths = {migration.path for migration in load_migrations()}
    assert ACCESS_SQL not in paths
    assert all(path.parent == MIGRATIONS_DIR for path in paths)
