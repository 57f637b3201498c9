"""Opening a clickhouse-connect client on a target: the embedded engine (chdb hosts one
engine per process and one process per folder: both limits become one clear sentence) or a
server over HTTP(S). Messages never contain a password."""

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
from pathlib import Path
from typing import Any

from pipelines.connectors.warehouse_target import Target
from pipelines.errors import WarehouseError, WarehouseLockedError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10


# --- chdb: one engine per process ---------------------------------------------

_open_lock = threading.Lock()
_open_embedded: dict[Path, int] = {}  # folder -> number of open Warehouse objects


def holder_pid(folder: Path) -> int | None:
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


def clickhouse_message(err: BaseException) -> str:
    """ClickHouse's own message of a clickhouse-connect error, as one line."""
    text = _one_line(str(err))
    idx = text.find("Code: ")
    if idx > 0:
        text = text[idx:]
    return text.replace(" FORMAT Native", "").replace(" FORMAT TabSeparatedWithNames", "")


def connect_embedded(target: Target) -> Any:
    """A client on the target's folder (counted as open in this process)."""
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
    pid = holder_pid(folder)
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
        with _open_lock:
            _open_embedded[folder] = _open_embedded.get(folder, 0) + 1
        return client
    log.debug("chdb connect failed: %r; engine said: %s", failure, engine_output)
    pid = holder_pid(folder)
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
    text = clickhouse_message(err)
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


def connect_server(target: Target, settings: dict[str, int | str] | None = None) -> Any:
    """A client on a ClickHouse server (one clear error when it cannot be reached);
    ``settings``: ClickHouse settings sent with every statement (a cluster's write settings)."""
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
                settings=settings,
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


def release_embedded(folder: Path) -> None:
    """One client of ``folder`` was closed in this process."""
    with _open_lock:
        left = _open_embedded.get(folder, 1) - 1
        if left > 0:
            _open_embedded[folder] = left
        else:
            _open_embedded.pop(folder, None)
