"""The wire format of the loader's query endpoint (:mod:`pipelines.streaming.query_endpoint`):
values over JSON, the result document, and the advert file a loader leaves in the folder."""

from __future__ import annotations

import base64
import json
import math
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import Any

from pipelines.connectors.warehouse_sessions import holder_pid
from pipelines.local.processes import LOOPBACK, is_zombie

ADVERT_NAME = "pulse-query-endpoint.json"

Columns = tuple[list[str], list[str], list[tuple[Any, ...]]]


# --- values over JSON --------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """A value of a clickhouse-connect result as JSON: JSON scalars and lists as they are,
    everything else as a one-key object (``{"$dt": ...}``) that :func:`decode_value` reverses,
    so the client renders exactly what a local query would."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time_of_day):
        return {"$time": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, IPv4Address):
        return {"$ip4": str(value)}
    if isinstance(value, IPv6Address):
        return {"$ip6": str(value)}
    if isinstance(value, dict):
        return {"$map": [[encode_value(k), encode_value(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$tuple": [encode_value(item) for item in value]}
    if isinstance(value, list | set | frozenset):
        return [encode_value(item) for item in value]
    return {"$str": str(value)}  # rendered as its text, like a local query renders it


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$float": float,
    "$dt": datetime.fromisoformat,
    "$date": date.fromisoformat,
    "$time": time_of_day.fromisoformat,
    "$dec": Decimal,
    "$bytes": base64.b64decode,
    "$uuid": uuid.UUID,
    "$ip4": IPv4Address,
    "$ip6": IPv6Address,
    "$map": lambda pairs: {decode_value(k): decode_value(v) for k, v in pairs},
    "$tuple": lambda items: tuple(decode_value(item) for item in items),
    "$str": str,
}


def decode_value(value: Any) -> Any:
    """The inverse of :func:`encode_value`."""
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    if isinstance(value, dict):
        ((tag, inner),) = value.items()
        return _DECODERS[tag](inner)
    return value


def encode_result(names: list[str], types: list[str], rows: list[tuple[Any, ...]]) -> bytes:
    rows_out = [[encode_value(value) for value in row] for row in rows]
    body = {"names": names, "types": types, "rows": rows_out}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def decode_result(payload: bytes) -> Columns:
    body = json.loads(payload)
    rows = [tuple(decode_value(value) for value in row) for row in body["rows"]]
    return list(body["names"]), list(body["types"]), rows


# --- the advert --------------------------------------------------------------------


@dataclass(frozen=True)
class Advert:
    """Where the process holding a warehouse folder serves its queries."""

    pid: int
    port: int
    token: str
    database: str
    timeout_s: float
    started_ms: int
    host: str = LOOPBACK


def advert_path(folder: Path) -> Path:
    return folder / ADVERT_NAME


def write_advert(folder: Path, advert: Advert) -> None:
    """Atomically, readable by this user only (the token guards the endpoint)."""
    temp = folder / f".{ADVERT_NAME}.{os.getpid()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(advert), out)
    os.replace(temp, advert_path(folder))


def read_advert(folder: Path) -> Advert | None:
    try:
        data = json.loads(advert_path(folder).read_text())
        return Advert(**data)
    except (OSError, ValueError, TypeError):
        return None


def live_advert(folder: Path) -> Advert | None:
    """The advert of ``folder`` if its process is alive and holds the folder, else None."""
    advert = read_advert(folder)
    if advert is None or is_zombie(advert.pid):
        return None
    holder = holder_pid(folder)
    if holder is None or (holder > 0 and holder != advert.pid):
        return None  # the folder is free, or held by another process than the advertiser
    return advert


# --- the server (inside the process that holds the folder) -------------------------
