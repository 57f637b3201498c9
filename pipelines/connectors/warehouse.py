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
password (:func:`redact_dsn`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import pyarrow as pa

from pipelines.dsn import redact_dsn
from pipelines.errors import WarehouseError, WarehouseLockedError

if TYPE_CHECKING:
    from pipelines.config import Settings

log = logging.getLogger(__name__)

SERVER_SCHEMES = ("clickhouse", "http", "https")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONNECT_TIMEOUT_S = 10


class WarehouseQueryError(WarehouseError):
    """ClickHouse refused a statement (syntax, unknown table, ...)."""


@dataclass(frozen=True)
class Target:
    """Where the warehouse is, parsed from ``--warehouse`` / ``PULSE_WAREHOUSE``."""

    kind: str  # "embedded" or "server"
    display: str  # safe to print: no password
    folder: Path | None = None
    interface: str = "http"
    host: str = ""
    port: int | None = None
    username: str | None = None
    password: str | None = None
    database: str | None = None  # from a server DSN path, if any


def parse_target(value: str, password: str | None = None) -> Target:
    """Parse a warehouse target; raise :class:`WarehouseError` for unusable values."""
    value = value.strip()
    if not value:
        raise WarehouseError("no warehouse given: pass --warehouse FOLDER or clickhouse://...")
    if "://" not in value:
        folder = Path(value).expanduser()
        return Target("embedded", str(folder), folder=Path(os.path.realpath(folder)))
    try:
        display = redact_dsn(value)
    except ValueError:  # unparsable port: redact by hand
        display = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", value)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as err:
        raise WarehouseError(f"warehouse {display} is not a valid address ({err})") from None
    scheme = parts.scheme.lower()
    if scheme == "chdb":
        location = unquote(parts.path if not parts.netloc else parts.netloc + parts.path)
        if not location or location in ("memory", ":memory:"):
            raise WarehouseError(
                f"warehouse {display}: give a folder (chdb:///abs/folder); "
                "an in-memory warehouse would lose every result"
            )
        folder = Path(location).expanduser()
        return Target("embedded", str(folder), folder=Path(os.path.realpath(folder)))
    if scheme not in SERVER_SCHEMES:
        raise WarehouseError(
            f"warehouse {display} has an unknown scheme {parts.scheme!r}: use a folder, "
            "clickhouse://user:password@host:8123/, http:// or https://"
        )
    if not parts.hostname:
        raise WarehouseError(f"warehouse {display} has no host")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    secure = query.get("secure", "").lower() in ("1", "true", "yes")
    if scheme == "https" or (scheme == "clickhouse" and (secure or port in (443, 8443))):
        interface = "https"
    else:
        interface = "http"
    database = unquote(parts.path.strip("/")) or None
    dsn_password = unquote(parts.password) if parts.password is not None else None
    return Target(
        "server",
        display,
        interface=interface,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=dsn_password if dsn_password is not None else password,
        database=database,
    )


def quote_identifier(name: str) -> str:
    """Backquote a database/table identifier (names are checked, not escaped)."""
    if not IDENTIFIER.match(name):
        raise WarehouseError(f"{name!r} is not a valid ClickHouse identifier")
    return f"`{name}`"


# --- chdb: one engine per process ---------------------------------------------

_open_lock = threading.Lock()
_open_embedded: dict[Path, int] = {}  # folder -> number of open Warehouse objects


def _holder_pid(folder: Path) -> int | None:
    """The pid holding ``folder``'s engine lock, or None when nobody holds it."""
    status = folder / "status"
    try:
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 4096).decode("utf-8", "replace")
            match = re.search(r"PID:\s*(\d+)", text)
            return int(match.group(1)) if match else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _locked_error(folder: Path, pid: int) -> WarehouseLockedError:
    who = f"pid {pid}" if pid > 0 else "pid unknown"
    return WarehouseLockedError(
        f"warehouse folder {folder} is in use by another process ({who}) "
        "— stop it or choose another --warehouse"
    )


@contextlib.contextmanager
def _native_stderr_captured() -> Iterator[list[str]]:
    """Collect what native code writes to fd 2 (chdb prints engine errors there).

    The text is handed back to the caller, which logs it or folds it into one
    clear error instead of leaving a raw engine dump on the terminal.
    """
    captured: list[str] = []
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2: nothing to capture
        yield captured
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode("utf-8", "replace"))


def _one_line(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s*\(version [^)]*\)\.?$", "", text)


def _clickhouse_message(err: BaseException) -> str:
    """ClickHouse's own message of a clickhouse-connect error, as one line."""
    text = _one_line(str(err))
    idx = text.find("Code: ")
    if idx > 0:
        text = text[idx:]
    return text.replace(" FORMAT Native", "").replace(" FORMAT TabSeparatedWithNames", "")


def _connect_embedded(target: Target) -> Any:
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import Error as ClickHouseConnectError

    folder = target.folder
    assert folder is not None
    if folder.exists() and not folder.is_dir():
        raise WarehouseError(f"warehouse {target.display} is a file, not a folder")
    with _open_lock:
        other = next((path for path in _open_embedded if path != folder), None)
    if other is not None:
        raise WarehouseError(
            f"cannot open warehouse folder {folder}: this process already has {other} open "
            "and the embedded engine (chdb) serves one folder per process — close it first"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise WarehouseError(
            f"cannot create warehouse folder {target.display}: {err.strerror}"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WarehouseError(f"warehouse folder {target.display} is not writable")
    pid = _holder_pid(folder)
    if pid is not None and pid != os.getpid():
        raise _locked_error(folder, pid)
    with _native_stderr_captured() as noise:
        try:
            client = clickhouse_connect.get_client(dsn=f"chdb://{folder}", tz_mode="aware")
            failure: BaseException | None = None
        except (ClickHouseConnectError, RuntimeError, OSError) as err:
            failure = err
    engine_output = "".join(noise).strip()
    if failure is None:
        if engine_output:  # never hide what the engine said on success
            print(engine_output, file=sys.stderr)
        return client
    log.debug("chdb connect failed: %r; engine said: %s", failure, engine_output)
    pid = _holder_pid(folder)
    if pid is not None and pid != os.getpid():
        raise _locked_error(folder, pid) from None
    message = _one_line(str(failure))
    already = re.search(r"already initialized with path '([^']*)'", message)
    if already:
        raise WarehouseError(
            f"cannot open warehouse folder {folder}: this process already has "
            f"{already.group(1)} open and the embedded engine (chdb) serves one folder "
            "per process — close it first"
        ) from None
    detail = _one_line(engine_output.splitlines()[0]) if engine_output else message
    raise WarehouseError(f"cannot open warehouse folder {folder}: {detail}") from None


_NETWORK_REASONS = (
    (re.compile(r"Failed to resolve '([^']+)'"), "cannot resolve host {0}"),
    (re.compile(r"\[Errno -?\d+\] ([^\"')]+)"), "{0}"),
    (re.compile(r"(timed out)", re.I), "connection timed out"),
    (re.compile(r"(SSLError|CERTIFICATE_VERIFY_FAILED)[^\"')]*"), "TLS handshake failed"),
)


def _server_reason(err: BaseException) -> str:
    """The root cause of a failed server connection, short (no urllib3 dump)."""
    text = _clickhouse_message(err)
    if text.startswith("Code: "):  # the server answered: its message is the reason
        return text
    for pattern, template in _NETWORK_REASONS:
        match = pattern.search(text)
        if match:
            return template.format(match.group(1).strip())
    return text


@contextlib.contextmanager
def _quiet_http_logs() -> Iterator[None]:
    """urllib3 and clickhouse-connect log each failed attempt as a WARNING;
    the caller turns the failure into one sentence, so hide them (not at DEBUG)."""
    loggers = [logging.getLogger(name) for name in ("urllib3", "clickhouse_connect")]
    if logging.getLogger().isEnabledFor(logging.DEBUG):
        yield
        return
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _connect_server(target: Target) -> Any:
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import Error as ClickHouseConnectError

    port = target.port or (8443 if target.interface == "https" else 8123)
    try:
        with _quiet_http_logs():
            return clickhouse_connect.get_client(
                host=target.host,
                port=port,
                username=target.username,
                password=target.password or "",
                interface=target.interface,
                connect_timeout=CONNECT_TIMEOUT_S,
                query_retries=0,
                tz_mode="aware",
            )
    except (ClickHouseConnectError, OSError) as err:
        log.debug("server connect failed", exc_info=True)
        reason = _server_reason(err)
        if target.password and len(target.password) >= 3:
            reason = reason.replace(target.password, "***")
        raise WarehouseError(
            f"cannot connect to warehouse {target.display} "
            f"({target.interface}://{target.host}:{port}): {reason}"
        ) from None


class Warehouse:
    """A connected warehouse. Use as a context manager, or call :meth:`close`.

    All SQL errors surface as :class:`WarehouseQueryError` carrying
    ClickHouse's message on one line.
    """

    def __init__(self, client: Any, target: Target, database: str) -> None:
        self._client = client
        self.target = target
        self.database = database
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
        if isinstance(settings_or_target, str):
            password = None
            value = settings_or_target
            default_db = "pulse"
        else:
            secret = settings_or_target.warehouse_password
            password = secret.get_secret_value() if secret else None
            value = settings_or_target.warehouse
            default_db = settings_or_target.database
        target = parse_target(value, password)
        db = database or target.database or default_db
        quote_identifier(db)
        if target.kind == "embedded":
            assert target.folder is not None
            if not create_folder and not target.folder.exists():
                raise WarehouseError(
                    f"warehouse folder {target.display} does not exist "
                    "(run `pulse migrate` to create it, or check --warehouse)"
                )
            client = _connect_embedded(target)
            with _open_lock:
                _open_embedded[target.folder] = _open_embedded.get(target.folder, 0) + 1
        else:
            client = _connect_server(target)
        log.debug("connected to warehouse %s (database %s)", target.display, db)
        return cls(client, target, db)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._client.close()
        finally:
            folder = self.target.folder
            if self.target.kind == "embedded" and folder is not None:
                with _open_lock:
                    left = _open_embedded.get(folder, 1) - 1
                    if left > 0:
                        _open_embedded[folder] = left
                    else:
                        _open_embedded.pop(folder, None)

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
            raise WarehouseQueryError(_clickhouse_message(err)) from None

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

    def insert_arrow(self, table: str, data: pa.Table) -> int:
        """Bulk insert an Arrow table into ``table`` of the warehouse database.

        Columns are matched by name (the Arrow column names are sent); build
        ``data`` with :func:`pipelines.warehouse.tables.arrow_schema`.
        Returns the number of rows sent.
        """
        if data.num_rows == 0:
            return 0
        quote_identifier(table)
        with self._errors(f"INSERT INTO {table} (arrow, {data.num_rows} rows)"):
            self._client.insert_arrow(table, data, database=self.database)
        return int(data.num_rows)

    def optimize_final(self, table: str) -> None:
        """Merge ``table`` completely so replaced rows are gone (tests, maintenance)."""
        self.command(f"OPTIMIZE TABLE {self.table(table)} FINAL")


__all__ = [
    "Target",
    "Warehouse",
    "WarehouseQueryError",
    "parse_target",
    "quote_identifier",
]
