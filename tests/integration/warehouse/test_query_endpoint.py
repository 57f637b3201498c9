"""`pulse query` on an embedded warehouse held by another process (the loader of a running
stack): forwarded to the holder's read-only query endpoint, against a real chdb folder held by
a child process that runs the loader's own writer and endpoint
(:mod:`tests.integration.warehouse.query_holder`)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines import cli
from pipelines.connectors.warehouse import WarehouseQueryError
from pipelines.local.processes import free_port
from pipelines.streaming.query_endpoint import TOKEN_HEADER, query_endpoint
from pipelines.streaming.query_protocol import (
    ADVERT_NAME,
    Advert,
    live_advert,
    read_advert,
    write_advert,
)
from pipelines.warehouse.tables import TABLES
from tests.conftest import REPO, PulseCli

pytestmark = pytest.mark.integration

NOTE = "pulse query: answered by the running loader (pid {pid})"
TYPES_SQL = """SELECT toDateTime64('2024-05-01 12:00:00.250', 3, 'UTC') AS at,
       toDate('2024-05-01') AS day, toInt64(9007199254740993) AS micros,
       toDecimal64('12.3456', 6) AS price, 1 / 0 AS inf, ['a', 'b,c'] AS tags,
       map(1, [2, 3]) AS m, tuple('x', 1) AS pair, toUUID('12345678-1234-5678-1234-567812345678')
       AS id, toIPv4('10.1.2.3') AS ip, CAST(NULL AS Nullable(String)) AS nothing,
       unhex('FFFE41') AS raw, true AS ok, 'naïve' AS text,
       (SELECT count() FROM fct_attributed_clicks) AS tables_resolve_in_pulse"""
CLICKS_SQL = "SELECT * FROM fct_attributed_clicks FINAL ORDER BY click_id"
PAYOUTS_SQL = "SELECT * FROM agg_creator_payouts_daily ORDER BY day"
QUERIES = (TYPES_SQL, CLICKS_SQL, PAYOUTS_SQL)
FORMATS = ("table", "jsonl", "csv")


class Holder:
    """The child process holding the folder (see ``query_holder``)."""

    def __init__(self, folder: Path, mode: str, env: dict[str, str] | None = None) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.warehouse.query_holder", str(folder), mode],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.popen.pid
        self._expect("ready")

    def _expect(self, word: str) -> None:
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline().strip()
        assert line == word, f"holder said {line!r}, exit {self.popen.poll()}"

    def click(self, click_id: str, day: str = "2026-10-02") -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(f"click {click_id} {day}\n")
        self.popen.stdin.flush()
        self._expect("stored")

    def quit(self) -> None:
        if self.popen.poll() is None:
            assert self.popen.stdin is not None
            self.popen.stdin.write("quit\n")
            self.popen.stdin.flush()
            self._expect("closed")
        self.popen.wait(timeout=60)

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=60)


@pytest.fixture
def holders() -> Iterator[list[Holder]]:
    started: list[Holder] = []
    yield started
    for holder in started:
        holder.kill()


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("pulse query:")]
    assert len(lines) == 1 and lines[0].startswith("pulse: error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def pulse_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``pulse query ARGS`` in this process: (exit code, stdout, stderr). Opening a folder
    here is fine: the query closes it."""
    capsys.readouterr()
    code = cli.main(["query", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_pulse_query_is_answered_by_the_holder_like_a_local_query(
    pulse_cli: PulseCli,
    warehouse_dir: Path,
    holders: list[Holder],
    capsys: pytest.CaptureFixture[str],
) -> None:
    holder = Holder(warehouse_dir, "serve")
    holders.append(holder)
    holder.click("ck_1", "2026-10-02")
    holder.click("ck_2", "2026-10-03")
    advert = live_advert(warehouse_dir.resolve())
    assert advert is not None and advert.pid == holder.pid

    count = pulse_cli("query", "SELECT count() FROM pulse.fct_attributed_clicks")
    assert count.returncode == 0, count.stderr
    assert count.stdout.splitlines() == ["count()", "-------", "      2", "(1 row)"]
    assert count.stderr.strip() == (
        NOTE.format(pid=holder.pid) + f", which holds warehouse folder {warehouse_dir}: "
        "read-only, every batch stored so far"
    )
    holder.click("ck_3", "2026-10-03")  # each stored batch is visible to the next query
    live = pulse_cli("query", "--format", "csv", "SELECT count() AS n FROM fct_attributed_clicks")
    assert live.stdout == "n\n3\n", live.stderr

    # every format, in process (quicker than a subprocess each; the same code path)
    folder = str(warehouse_dir)
    forwarded = {}
    for sql in QUERIES:
        for fmt in FORMATS:
            code, out, err = pulse_in_process(capsys, "--warehouse", folder, "--format", fmt, sql)
            assert code == 0 and NOTE.format(pid=holder.pid) in err, err
            forwarded[sql, fmt] = out
    assert json.loads(forwarded[PAYOUTS_SQL, "jsonl"].splitlines()[1])["creator_micros"] == (
        2000 + 3000
    )
    assert '"tables_resolve_in_pulse": 3' in forwarded[TYPES_SQL, "jsonl"]
    assert forwarded[CLICKS_SQL, "table"].endswith("(3 rows)\n")

    holder.quit()
    assert not (warehouse_dir / ADVERT_NAME).exists()  # the endpoint withdrew its advert
    for (sql, fmt), text in forwarded.items():  # the folder is free: read it directly
        code, out, err = pulse_in_process(capsys, "--warehouse", folder, "--format", fmt, sql)
        assert code == 0 and "pulse query:" not in err, err
        assert out == text, (sql, fmt)


WRITES = (
    "TRUNCATE TABLE agg_creator_payouts_daily",
    "ALTER TABLE fct_attributed_clicks DELETE WHERE 1",
    "OPTIMIZE TABLE fct_attributed_clicks FINAL",
    "CREATE TABLE pulse.extra (a Int8) ENGINE = Memory",
    "SELECT count() FROM fct_attributed_clicks SETTINGS readonly = 0",
    "SET readonly = 0",
    "SELECT * FROM file('/etc/hostname', 'LineAsString')",
    "INSERT INTO FUNCTION file('leak.csv', 'CSV') SELECT * FROM fct_attributed_clicks",
    "SYSTEM DROP MARK CACHE",
)


def test_the_endpoint_refuses_every_write(
    pulse_cli: PulseCli, warehouse_dir: Path, holders: list[Holder]
) -> None:
    holder = Holder(warehouse_dir, "serve")
    holders.append(holder)
    holder.click("ck_1")
    for sql in (
        "INSERT INTO fct_attributed_clicks (click_id) VALUES ('forged')",
        "DROP TABLE fct_attributed_clicks",
    ):
        error = one_line_error(pulse_cli("query", sql))
        assert "(READONLY)" in error, error
        assert error.endswith("the running loader serves read-only queries"), error
    folder = warehouse_dir.resolve()
    advert = live_advert(folder)
    assert advert is not None
    for sql in WRITES:
        with pytest.raises(WarehouseQueryError, match=r"\(READONLY\)"):
            query_endpoint(folder, advert, sql)
    after = pulse_cli("query", "--format", "csv", "SELECT count() AS n FROM fct_attributed_clicks")
    assert after.stdout == "n\n1\n", after.stderr
    holder.click("ck_2")  # the loader's own connection still writes
    holder.quit()
    sql = """SELECT (SELECT count() FROM fct_attributed_clicks) AS clicks,
                    (SELECT count() FROM agg_creator_payouts_daily) AS payouts,
                    (SELECT count() FROM system.tables WHERE database = 'pulse') AS tables"""
    local = pulse_cli("query", "--format", "jsonl", sql)
    assert local.returncode == 0 and "pulse query:" not in local.stderr, local.stderr
    assert json.loads(local.stdout) == {"clicks": 2, "payouts": 1, "tables": len(TABLES) + 1}
    assert not (Path(REPO) / "leak.csv").exists() and not (folder / "user_files").exists()


def test_the_endpoint_guards_the_loader(
    pulse_cli: PulseCli, warehouse_dir: Path, holders: list[Holder]
) -> None:
    """Only loopback, only with the token, results capped, queries timed out."""
    holder = Holder(
        warehouse_dir,
        "serve",
        {"PULSE_LOADER__QUERY_MAX_ROWS": "1000", "PULSE_LOADER__QUERY_TIMEOUT_S": "1"},
    )
    holders.append(holder)
    advert = read_advert(warehouse_dir.resolve())
    assert advert is not None and advert.host == "127.0.0.1" and advert.timeout_s == 1.0

    def post(headers: dict[str, str], body: bytes, path: str = "/query") -> tuple[int, str]:
        conn = http.client.HTTPConnection(advert.host, advert.port, timeout=30)
        try:
            conn.request("POST", path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read().decode()
        finally:
            conn.close()

    body = json.dumps({"sql": "SELECT 1"}).encode()
    assert post({}, body)[0] == 401
    assert post({TOKEN_HEADER: "wrong"}, body)[0] == 401
    assert post({TOKEN_HEADER: advert.token}, body, "/other")[0] == 404
    assert post({TOKEN_HEADER: advert.token}, b"SELECT 1")[0] == 400
    status, text = post({TOKEN_HEADER: advert.token}, body)
    assert status == 200 and json.loads(text)["rows"] == [[1]]

    rows = one_line_error(pulse_cli("query", "SELECT number FROM numbers(5000)"))
    assert "TOO_MANY_ROWS_OR_BYTES" in rows
    slow = one_line_error(
        pulse_cli("query", "SELECT sum(cityHash64(number)) FROM numbers(1000000000000)")
    )
    assert "TIMEOUT_EXCEEDED" in slow
    fine = pulse_cli("query", "--format", "csv", "SELECT count() AS n FROM numbers(1000)")
    assert fine.stdout == "n\n1000\n", fine.stderr


def test_concurrent_queries_see_whole_batches(warehouse_dir: Path, holders: list[Holder]) -> None:
    """Queries from several threads while batches are stored: each sees a prefix of the
    batches, each batch complete (the clicks and the payouts rebuilt from them agree)."""
    holder = Holder(warehouse_dir, "serve")
    holders.append(holder)
    folder = warehouse_dir.resolve()
    advert = live_advert(folder)
    assert advert is not None
    sql = """SELECT (SELECT count() FROM fct_attributed_clicks FINAL),
                    (SELECT sum(creator_micros) FROM fct_attributed_clicks FINAL),
                    (SELECT sum(creator_micros) FROM agg_creator_payouts_daily)"""
    seen: list[list[tuple[int, int, int]]] = [[] for _ in range(3)]
    errors: list[BaseException] = []
    done = threading.Event()

    def reader(out: list[tuple[int, int, int]]) -> None:
        try:
            while not done.is_set() or not out:
                _names, _types, rows = query_endpoint(folder, advert, sql)
                out.append(tuple(int(v) for v in rows[0]))  # type: ignore[arg-type]
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=reader, args=(out,)) for out in seen]
    for thread in threads:
        thread.start()
    for i in range(1, 13):
        holder.click(f"ck_{i:02d}", f"2026-10-{1 + i % 5:02d}")
    done.set()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    for out in seen:
        counts = [count for count, _, _ in out]
        assert counts == sorted(counts), "a later query saw fewer batches"
        for count, clicks_micros, payout_micros in out:
            assert clicks_micros == payout_micros == 1000 * count * (count + 1) // 2
    observed = {count for out in seen for count, _, _ in out}
    assert len(observed) > 2, f"the queries did not overlap the loading: {observed}"
    final = query_endpoint(folder, advert, sql)[2][0]
    assert final == (12, 78_000, 78_000)


def test_a_holder_that_serves_nothing_keeps_the_one_sentence_error(
    pulse_cli: PulseCli, warehouse_dir: Path, holders: list[Holder]
) -> None:
    holder = Holder(warehouse_dir, "hold")
    holders.append(holder)
    folder = warehouse_dir.resolve()
    expected = (
        f"pulse: error: warehouse folder {folder} is in use by another process "
        f"(pid {holder.pid}) — stop it or choose another --warehouse"
    )
    assert not (folder / ADVERT_NAME).exists()
    assert one_line_error(pulse_cli("query", "SELECT 1")) == expected

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    for pid in (int(dead.stdout), os.getpid()):  # a killed loader's left-over, another process
        write_advert(folder, Advert(pid, free_port(), "t", "pulse", 30.0, 0))
        assert live_advert(folder) is None
        result = pulse_cli("query", "SELECT 1")
        assert one_line_error(result) == expected
        assert "pulse query:" not in result.stderr

    write_advert(folder, Advert(holder.pid, free_port(), "t", "pulse", 30.0, 0))
    unanswered = one_line_error(pulse_cli("query", "SELECT 1"))
    assert unanswered.startswith(
        f"pulse: error: warehouse folder {folder} is held by process {holder.pid}, "
        "whose query endpoint (127.0.0.1:"
    )
    assert unanswered.endswith("did not answer: Connection refused")
