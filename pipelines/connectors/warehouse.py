"""The one warehouse client: embedded chdb (a folder) or a ClickHouse server.

Both go through clickhouse-connect; after :meth:`Warehouse.connect` there is a
single code path. A target is

* a folder (``.pulse/warehouse``, ``/data/wh``, or ``chdb:///abs/folder``):
  the embedded engine, ``clickhouse_connect.get_client(dsn="chdb://<abs>")``;
* ``clickhouse://user:password@host:8123/[database]``, ``http://...`` or
  ``https://...``: a server over HTTP(S) (``clickhouse://`` means HTTPS when
  the port is 8443/443 or ``?secure=true``).

chdb hosts one engine per process and one process per folder. Both limits
become one clear sentence (:class:`WarehouseLockedError` /
:class:`WarehouseError`), never a traceback. Messages never contain a
password (:func:`pipelines.dsn.redact_dsn`). Targets are parsed by
:mod:`pipelines.connectors.warehouse_target`, clients opened by
:mod:`pipelines.connectors.warehouse_sessions`.

With ``Settings.warehouse_cluster`` on (a ClickHouse cluster, docs/warehouse-cluster.md) the
client sends the cluster's write settings with every statement, inserts carry a
deduplication token, and :attr:`Warehouse.cluster` tells the warehouse modules to name the
``_local`` tables ``ON CLUSTER`` where a Distributed table refuses a command (the SQL text:
:mod:`pipelines.connectors.warehouse_cluster`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from pipelines.connectors.warehouse_cluster import (
    client_settings,
    insert_settings,
    optimize_final_sql,
)
from pipelines.connectors.warehouse_sessions import (
    clickhouse_message,
    connect_embedded,
    connect_server,
    release_embedded,
)
from pipelines.connectors.warehouse_target import Target, parse_target, quote_identifier
from pipelines.errors import WarehouseError

if TYPE_CHECKING:
    from pipelines.config import Settings

log = logging.getLogger(__name__)


class WarehouseQueryError(WarehouseError):
    """ClickHouse refused a statement (syntax, unknown table, ...)."""


class Warehouse:
    """A connected warehouse. Use as a context manager, or call :meth:`close`.

    All SQL errors surface as :class:`WarehouseQueryError` carrying
    ClickHouse's message on one line.
    """

    def __init__(
        self, client: Any, target: Target, database: str, *, cluster: bool = False
    ) -> None:
        self._client = client
        self.target = target
        self.database = database
        #: a ClickHouse cluster: Distributed tables under the original names (the setting
        #: ``warehouse_cluster``); data commands go to the ``_local`` tables ON CLUSTER
        self.cluster = cluster
        self._closed = False

    # --- lifecycle -------------------------------------------------------------
    @classmethod
    def connect(
        cls,
        settings_or_target: Settings | str,
        *,
        database: str | None = None,
        create_folder: bool = True,
    ) -> Warehouse:
        """Connect to the warehouse named by settings (or a folder/DSN string).

        ``database`` defaults to ``Settings.database`` (``pulse``), or the path
        of a server DSN. ``create_folder=False`` refuses a folder that does not
        exist yet (``pulse query`` should not create an empty warehouse).
        """
        cluster_settings: dict[str, int | str] | None = None  # None: one node
        if isinstance(settings_or_target, str):
            password = None
            value = settings_or_target
            default_db = "pulse"
        else:
            secret = settings_or_target.warehouse_password
            password = secret.get_secret_value() if secret else None
            value = settings_or_target.warehouse
            default_db = settings_or_target.database
            if settings_or_target.warehouse_cluster:
                cluster_settings = client_settings(settings_or_target.warehouse_insert_quorum)
        target = parse_target(value, password)
        db = database or target.database or default_db
        quote_identifier(db)
        if target.kind == "embedded":
            # the settings refuse a cluster on a folder first; never reach chdb with one
            if cluster_settings is not None:
                raise WarehouseError(
                    f"warehouse {target.display} is an embedded folder: a cluster needs a "
                    "ClickHouse server (turn warehouse_cluster off)"
                )
            assert target.folder is not None
            if not create_folder and not target.folder.exists():
                raise WarehouseError(
                    f"warehouse folder {target.display} does not exist "
                    "(run `pulse migrate` to create it, or check --warehouse)"
                )
            client = connect_embedded(target)
        else:
            client = connect_server(target, cluster_settings)
        log.debug("connected to warehouse %s (database %s)", target.display, db)
        return cls(client, target, db, cluster=cluster_settings is not None)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._client.close()
        finally:
            if self.target.kind == "embedded" and self.target.folder is not None:
                release_embedded(self.target.folder)

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def is_embedded(self) -> bool:
        return self.target.kind == "embedded"

    # --- naming ------------------------------------------------------------------
    def table(self, name: str) -> str:
        """``name`` qualified with the warehouse database, quoted."""
        return f"{quote_identifier(self.database)}.{quote_identifier(name)}"

    def database_exists(self) -> bool:
        sql = f"EXISTS DATABASE {quote_identifier(self.database)}"
        return str(self.command(sql)).strip() == "1"

    def use_database(self) -> None:
        """Make the warehouse database the default for unqualified table names."""
        self._client.database = self.database

    # --- statements ----------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, sql: str) -> Iterator[None]:
        from clickhouse_connect.driver.exceptions import Error as ClickHouseConnectError

        if self._closed:
            raise WarehouseError(f"warehouse {self.target.display} is closed")
        try:
            yield
        except ClickHouseConnectError as err:
            log.debug("statement failed: %s", sql, exc_info=True)
            raise WarehouseQueryError(clickhouse_message(err)) from None

    def command(self, sql: str) -> Any:
        """Run a statement; return ClickHouse's single value, if any."""
        with self._errors(sql):
            return self._client.command(sql)

    def query_arrow(self, sql: str, *, use_strings: bool = True) -> pa.Table:
        """Run a query; the result as an Arrow table (instants keep tz UTC).

        Strings come as Arrow ``string``; pass ``use_strings=False`` to get
        ``binary`` for columns that may hold non-UTF-8 bytes (``raw`` payloads).
        """
        with self._errors(sql):
            table: pa.Table = self._client.query_arrow(sql, use_strings=use_strings)
            return table

    def query_rows(self, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query; ``(column names, rows)`` with Python values (UTC-aware datetimes)."""
        names, _types, rows = self.query_typed(sql)
        return names, rows

    def query_typed(self, sql: str) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
        """Like :meth:`query_rows`, plus the ClickHouse type name of each column."""
        with self._errors(sql):
            result = self._client.query(sql)
            names = list(result.column_names)
            types = [column_type.name for column_type in result.column_types]
            rows = [tuple(row) for row in result.result_rows]
        return names, types, rows

    def insert_arrow(self, table: str, data: pa.Table, *, dedup_token: str | None = None) -> int:
        """Bulk insert an Arrow table into ``table`` of the warehouse database.

        Columns are matched by name (the Arrow column names are sent); build
        ``data`` with :func:`pipelines.warehouse.tables.arrow_schema`.
        Returns the number of rows sent. On a cluster, ``dedup_token`` is the
        insert's ``insert_deduplication_token`` (the same for every retry of the
        same records); it is not sent to one node
        (:func:`~pipelines.connectors.warehouse_cluster.insert_settings`).
        """
        if data.num_rows == 0:
            return 0
        quote_identifier(table)
        settings = insert_settings(self.cluster, dedup_token)
        with self._errors(f"INSERT INTO {table} (arrow, {data.num_rows} rows)"):
            self._client.insert_arrow(table, data, database=self.database, settings=settings)
        return int(data.num_rows)

    def optimize_final(self, table: str) -> None:
        """Merge ``table`` completely so replaced rows are gone (tests, maintenance); on a
        cluster its local tables on every shard and replica."""
        self.command(optimize_final_sql(self.database, table, self.cluster))


__all__ = ["Warehouse", "WarehouseQueryError"]
