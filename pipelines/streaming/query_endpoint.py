"""Read-only queries of an embedded warehouse while the loader holds its folder.

chdb allows one process per folder, and while the stack runs that process is the loader
(``jobs/faust_loader.py``). So the loader serves the queries itself: a small HTTP endpoint
on 127.0.0.1 that takes one SQL statement and answers with the rows. ``pulse query
--warehouse W`` forwards to it when it finds W locked by a process that advertises one.
With a ClickHouse server none of this is needed: every client connects to the server.

* **Read-only.** Queries run on a connection of their own to the loader's engine whose
  session has ``readonly = 1`` (set before the first query and checked), so ClickHouse itself
  refuses INSERT, DROP, ALTER, OPTIMIZE, table functions that touch files, and any attempt to
  change a setting (``SETTINGS readonly = 0`` included). The same session caps a query at
  ``loader.query_timeout_s`` (``max_execution_time``) and ``loader.query_max_rows`` result
  rows (``max_result_rows``).
* **Serialized with the loading.** chdb connections are not shared across threads here: every
  query runs on the loader's one warehouse thread (the executor passed to :func:`serve`),
  between two batches. A query therefore sees every batch stored before it, each one complete
  (clicks together with the payouts rebuilt from them), and never half a batch. The asyncio
  loop of the loader is never blocked: the HTTP server has its own threads, which only wait.
* **Advertised in the folder.** ``<folder>/pulse-query-endpoint.json`` (mode 0600) holds the
  pid, the port and a random token that every request must present; it is written once the
  endpoint answers and removed when it stops. A client trusts it only while that pid is alive
  and is the one holding the folder's lock (a file left by a killed loader is ignored).

The protocol: ``POST /query`` with ``{"sql": "..."}`` and the header ``X-Pulse-Token``; the
answer is ``{"names": [...], "types": [...], "rows": [[...], ...]}`` (types are ClickHouse's
type names; values that JSON cannot carry are tagged, see :func:`encode_value`), or
``{"error": "..."}`` with status 400 (ClickHouse refused the statement), 401 (bad token) or
503 (the loader is stopping or too busy).
"""

from __future__ import annotations

import contextlib
import hmac
import http.client
import json
import logging
import os
import secrets
import threading
import time
from concurrent.futures import CancelledError, Executor, Future
from concurrent.futures import TimeoutError as FutureTimeout
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pipelines.config import Settings
from pipelines.connectors.warehouse import Warehouse, WarehouseQueryError
from pipelines.connectors.warehouse_target import parse_target
from pipelines.errors import WarehouseError
from pipelines.local.processes import LOOPBACK
from pipelines.streaming.query_protocol import (
    Advert,
    Columns,
    advert_path,
    decode_result,
    encode_result,
    read_advert,
    write_advert,
)

log = logging.getLogger("pulse.query_endpoint")

TOKEN_HEADER = "X-Pulse-Token"
PATH = "/query"
MAX_SQL_BYTES = 1 << 20
#: how long a query may wait for the warehouse thread (a batch being stored) before it runs
QUEUE_WAIT_S = 60.0


class EndpointBusyError(WarehouseError):
    """The warehouse thread did not take the query in time, or it is shutting down."""


class QueryEndpoint:
    """Serves read-only SQL on 127.0.0.1; every query runs through ``executor`` (the one
    thread that uses the warehouse in this process)."""

    def __init__(self, settings: Settings, folder: Path, executor: Executor) -> None:
        self.settings = settings
        self.folder = folder
        self.executor = executor
        self.token = secrets.token_urlsafe(24)
        self._reader: Warehouse | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.advert: Advert | None = None

    # lifecycle (called from any thread but the warehouse thread)
    def start(self) -> Advert:
        self.executor.submit(self._open_reader).result(timeout=120)
        try:
            cfg = self.settings.loader
            server = ThreadingHTTPServer((LOOPBACK, cfg.query_port), _handler(self))
            server.daemon_threads = True
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, name="query-endpoint", daemon=True
            )
            self._thread.start()
            assert self._reader is not None
            self.advert = Advert(
                pid=os.getpid(),
                port=int(server.server_address[1]),
                token=self.token,
                database=self._reader.database,
                timeout_s=cfg.query_timeout_s,
                started_ms=int(time.time() * 1000),
            )
            write_advert(self.folder, self.advert)  # last: advertised once it answers
        except BaseException:
            self.stop()
            raise
        return self.advert

    def stop(self) -> None:
        """Stop answering, remove the advert, close the query connection (after the queries
        already queued on the warehouse thread)."""
        if self.advert is not None:
            current = read_advert(self.folder)
            if current is not None and current.pid == os.getpid():
                advert_path(self.folder).unlink(missing_ok=True)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with contextlib.suppress(RuntimeError, FutureTimeout):  # executor already shut down
            self.executor.submit(self._close_reader).result(timeout=120)

    # on the warehouse thread
    def _open_reader(self) -> None:
        reader = Warehouse.connect(self.settings, create_folder=False)
        try:
            if reader.database_exists():
                reader.use_database()
            cfg = self.settings.loader
            reader.command(f"SET max_execution_time = {cfg.query_timeout_s:g}")
            reader.command(f"SET max_result_rows = {cfg.query_max_rows}")
            reader.command("SET result_overflow_mode = 'throw'")
            reader.command("SET readonly = 1")  # last: no setting can change after it
            _names, rows = reader.query_rows("SELECT getSetting('readonly')")
            if str(rows[0][0]) != "1":  # fail closed
                raise WarehouseError("the query connection did not become read-only")
        except BaseException:
            reader.close()
            raise
        self._reader = reader

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _query(self, sql: str) -> Columns:
        if self._reader is None:
            raise EndpointBusyError("the loader is stopping: its query endpoint is closed")
        return self._reader.query_typed(sql)

    # on an HTTP thread
    def run(self, sql: str) -> Columns:
        """Run ``sql`` on the warehouse thread; wait for its turn at most ``QUEUE_WAIT_S``."""
        try:
            future: Future[Columns] = self.executor.submit(self._query, sql)
        except RuntimeError:  # the executor is shut down
            raise EndpointBusyError(
                "the loader is stopping: its query endpoint is closed"
            ) from None
        limit = QUEUE_WAIT_S + self.settings.loader.query_timeout_s
        try:
            return future.result(timeout=limit)
        except (FutureTimeout, CancelledError):
            future.cancel()  # if it has not started, it never will
            raise EndpointBusyError(
                f"the loader did not run the query within {limit:g} s (busy storing batches): "
                "try again"
            ) from None

    def authorized(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.token.encode())


def _handler(endpoint: QueryEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "pulse-query-endpoint"

        def do_POST(self) -> None:
            if self.path != PATH:
                self._send(404, {"error": f"unknown path {self.path}: POST {PATH}"})
                return
            if not endpoint.authorized(self.headers.get(TOKEN_HEADER)):
                self._send(401, {"error": "missing or wrong token"})
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 < length <= MAX_SQL_BYTES:
                self._send(400, {"error": f"send one SQL statement of at most {MAX_SQL_BYTES} B"})
                return
            try:
                sql = str(json.loads(self.rfile.read(length))["sql"])
            except (ValueError, KeyError, TypeError):
                self._send(400, {"error": 'the body must be {"sql": "..."}'})
                return
            started = time.perf_counter()
            try:
                names, types, rows = endpoint.run(sql)
            except WarehouseQueryError as err:
                self._send(400, {"error": str(err)})
                return
            except WarehouseError as err:
                self._send(503, {"error": str(err)})
                return
            except Exception as err:  # never a traceback to the client
                log.exception("query failed")
                self._send(500, {"error": f"{type(err).__name__}: {err}"})
                return
            log.info("served a query: %d rows in %.3f s", len(rows), time.perf_counter() - started)
            self._send_bytes(200, encode_result(names, types, rows))

        def _send(self, status: int, body: dict[str, Any]) -> None:
            self._send_bytes(status, json.dumps(body, ensure_ascii=False).encode())

        def _send_bytes(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client went away
                self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler


_serving: list[QueryEndpoint] = []


def serve(settings: Settings, executor: Executor) -> QueryEndpoint | None:
    """Serve read-only queries of the embedded warehouse of ``settings``, which THIS process
    holds, through ``executor`` (its one warehouse thread). Blocking until the endpoint
    answers; never raises: loading matters more than queries, so a failure is logged. None
    when not served (a server warehouse, ``loader.query_endpoint`` off, or a failure)."""
    if not settings.loader.query_endpoint:
        log.info("query endpoint off (loader.query_endpoint = false)")
        return None
    try:
        target = parse_target(settings.warehouse)
        if target.kind != "embedded" or target.folder is None:
            return None  # a ClickHouse server serves every client itself
        endpoint = QueryEndpoint(settings, target.folder, executor)
        advert = endpoint.start()
    except Exception as err:
        log.error("not serving queries of the warehouse: %s", err)
        return None
    _serving.append(endpoint)
    log.info(
        "serving read-only queries of %s on %s:%d (advertised in %s)",
        target.display,
        advert.host,
        advert.port,
        advert_path(target.folder),
    )
    return endpoint


def stop_serving() -> None:
    """Stop every endpoint :func:`serve` started in this process (before the warehouse
    thread is shut down)."""
    while _serving:
        endpoint = _serving.pop()
        try:
            endpoint.stop()
        except Exception as err:
            log.error("stopping the query endpoint: %s", err)


# --- the client (pulse query) --------------------------------------------------------


class EndpointError(WarehouseError):
    """The query endpoint of the process holding the folder could not answer."""


def query_endpoint(folder: Path, advert: Advert, sql: str) -> Columns:
    """Run ``sql`` on the endpoint ``advert`` describes; ClickHouse's refusal as
    :class:`WarehouseQueryError`, anything else as :class:`EndpointError` (one sentence)."""
    where = f"{advert.host}:{advert.port}"
    body = json.dumps({"sql": sql}).encode()
    timeout = QUEUE_WAIT_S + advert.timeout_s + 30
    conn = http.client.HTTPConnection(advert.host, advert.port, timeout=timeout)
    try:
        conn.request(
            "POST",
            PATH,
            body=body,
            headers={"Content-Type": "application/json", TOKEN_HEADER: advert.token},
        )
        response = conn.getresponse()
        payload = response.read()
    except (OSError, http.client.HTTPException) as err:
        if isinstance(err, TimeoutError):
            reason = f"no answer within {timeout:g} s"
        elif isinstance(err, OSError) and err.strerror:
            reason = err.strerror
        else:
            reason = str(err)
        raise EndpointError(
            f"warehouse folder {folder} is held by process {advert.pid}, whose query endpoint "
            f"({where}) did not answer: {reason or type(err).__name__}"
        ) from None
    finally:
        conn.close()
    if response.status == 200:
        return decode_result(payload)
    try:
        message = str(json.loads(payload)["error"])
    except (ValueError, KeyError, TypeError):
        message = payload[:200].decode("utf-8", "replace")
    if response.status == 400 and message.startswith("Code: "):
        if "(READONLY)" in message:
            message += " — the running loader serves read-only queries"
        raise WarehouseQueryError(message)
    raise EndpointError(f"query endpoint of process {advert.pid} ({where}): {message}")
