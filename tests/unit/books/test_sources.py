"""Reading input files: line endings, byte-order mark, last line, counting records."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.ingest import sources
from pipelines.ingest.sources import count_records, read_records


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "views.jsonl"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "records"),
    [
        (b"", []),
        (b"a", [b"a"]),  # no final newline
        (b"a\n", [b"a"]),
        (b"a\r\nb\r\n", [b"a", b"b"]),  # CRLF
        (b"a\r\nb", [b"a", b"b"]),
        (b"\n\n", [b"", b""]),  # two blank lines
        (b"a\r\r\n", [b"a\r"]),  # only the terminator is removed
        (b"a\rb\n", [b"a\rb"]),  # a lone CR is content
        (b"\xef\xbb\xbfa\n\xef\xbb\xbfb\n", [b"a", b"\xef\xbb\xbfb"]),  # BOM: file start only
        (b"\xff\xfe\x00\n", [b"\xff\xfe\x00"]),  # any bytes
    ],
)
def test_records_and_their_count(tmp_path: Path, data: bytes, records: list[bytes]) -> None:
    path = write(tmp_path, data)
    got = list(read_records(path))
    assert [raw for _line, raw in got] == records
    assert [line for line, _raw in got] == list(range(1, len(records) + 1))
    assert count_records(path) == len(records)


@pytest.mark.parametrize("block", [1, 2, 3, 5, 1 << 20])
def test_records_do_not_depend_on_the_read_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    # a CRLF, a BOM and long lines split across reads give the records of one read
    data = b"\xef\xbb\xbfab\r\n\r\n" + b"y" * 11 + b"\r\n\xef\xbb\xbf\rz\n\nlast\r"
    records = [b"ab", b"", b"y" * 11, b"\xef\xbb\xbf\rz", b"", b"last\r"]
    monkeypatch.setattr(sources, "_CHUNK_BYTES", block)
    assert [raw for _line, raw in read_records(write(tmp_path, data))] == records
    assert [raw for _line, raw in read_records(write(tmp_path, b"\xef\xbb\xbf"))] == [b""]
    assert count_records(write(tmp_path, b"\xef\xbb\xbf")) == 1


def test_count_spans_read_chunks(tmp_path: Path) -> None:
    line = b"x" * 999 + b"\n"
    path = write(tmp_path, line * 3000 + b"tail")  # ~3 MB: several 1 MiB chunks
    assert count_records(path) == 3001 == sum(1 for _ in read_records(path))


def test_parquet_rows_are_counted_from_metadata(tmp_path: Path) -> None:
    path = tmp_path / "views.parquet"
    pq.write_table(pa.table({"event_id": ["a", "b", "c"]}), path)
    assert count_records(path) == 3 == sum(1 for _ in read_records(path))
