"""Parsing --warehouse values: folders, chdb:// and server DSNs; clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.connectors.warehouse import Warehouse
from pipelines.connectors.warehouse_target import parse_target, quote_identifier
from pipelines.errors import WarehouseError


def test_folder(tmp_path: Path) -> None:
    target = parse_target(str(tmp_path / "wh"))
    assert target.kind == "embedded"
    assert target.folder == Path(os.path.realpath(tmp_path / "wh"))


def test_relative_folder_is_made_absolute() -> None:
    target = parse_target(".pulse/warehouse")
    assert target.folder is not None and target.folder.is_absolute()


def test_chdb_dsn() -> None:
    target = parse_target("chdb:///data/wh")
    assert target.kind == "embedded"
    assert target.folder == Path(os.path.realpath("/data/wh"))


def test_chdb_memory_is_refused() -> None:
    with pytest.raises(WarehouseError, match="give a folder"):
        parse_target("chdb://memory")


def test_server_dsn_hides_password() -> None:
    target = parse_target("clickhouse://bob:s3cret@db.example:8123/analytics")
    assert target.kind == "server"
    assert (target.host, target.port, target.interface) == ("db.example", 8123, "http")
    assert (target.username, target.password, target.database) == ("bob", "s3cret", "analytics")
    assert "s3cret" not in target.display


@pytest.mark.parametrize(
    ("dsn", "interface"),
    [
        ("clickhouse://h:8443/", "https"),
        ("clickhouse://h:8123/?secure=true", "https"),
        ("https://h/", "https"),
        ("http://h:8123/", "http"),
    ],
)
def test_interface(dsn: str, interface: str) -> None:
    assert parse_target(dsn).interface == interface


def test_password_from_settings_when_not_in_dsn() -> None:
    assert parse_target("clickhouse://bob@h:8123/", password="pw").password == "pw"
    assert parse_target("clickhouse://bob:dsn@h:8123/", password="pw").password == "dsn"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://u:topsecret@h/", "unknown scheme 'ftp'"),
        ("clickhouse://u:topsecret@:8123/", "has no host"),
        ("clickhouse://u:topsecret@h:notaport/", "not a valid address"),
        ("   ", "no warehouse given"),
    ],
)
def test_bad_targets(value: str, message: str) -> None:
    with pytest.raises(WarehouseError, match=message) as info:
        parse_target(value)
    assert "topsecret" not in str(info.value)


def test_regular_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("x")
    with pytest.raises(WarehouseError, match="is a file, not a folder"):
        Warehouse.connect(str(path))


def test_missing_folder_refused_when_not_creating(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="does not exist"):
        Warehouse.connect(str(tmp_path / "nope"), create_folder=False)


def test_bad_database_name() -> None:
    with pytest.raises(WarehouseError, match="not a valid ClickHouse identifier"):
        quote_identifier("pulse; DROP")
