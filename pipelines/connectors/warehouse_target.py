"""Where the warehouse is: a folder (embedded chdb) or a ClickHouse server URL, parsed from
``--warehouse`` / ``PULSE_WAREHOUSE``; and ClickHouse identifiers."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from pipelines.dsn import redact_dsn
from pipelines.errors import WarehouseError

SERVER_SCHEMES = ("clickhouse", "http", "https")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


def is_embedded_target(value: str) -> bool:
    """Whether ``value`` names the embedded engine (a folder or ``chdb://``), not a server."""
    text = value.strip()
    return "://" not in text or text.lower().startswith("chdb://")


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
