"""Warehouse DSNs that never leak a password (a pure string helper, used by the settings
and the warehouse connector alike)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_dsn(dsn: str) -> str:
    """``clickhouse://u:secret@h:8123/`` -> ``clickhouse://u:***@h:8123/``; folders unchanged."""
    if "://" not in dsn:
        return dsn
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}{port}", parts.path, parts.query, ""))
