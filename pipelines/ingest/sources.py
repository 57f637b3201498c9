"""Input files of a bounded run: which file holds which stream, and its records."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from itertools import chain
from pathlib import Path

import orjson

from pipelines.domain.events import Stream
from pipelines.domain.streams import STREAMS
from pipelines.errors import InputError

# stream -> file stem in the input folder (`views.jsonl`, `views.parquet`, ...): the catalog's
FILE_STEMS: dict[Stream, str] = {spec.stream: spec.stem for spec in STREAMS}
SUFFIXES = (".jsonl", ".parquet")


def find_stream_file(input_dir: Path, stream: Stream) -> Path | None:
    """The file of ``stream`` in ``input_dir``; None (an empty stream) when absent."""
    found = [
        input_dir / f"{FILE_STEMS[stream]}{suffix}"
        for suffix in SUFFIXES
        if (input_dir / f"{FILE_STEMS[stream]}{suffix}").is_file()
    ]
    if len(found) > 1:
        names = " and ".join(path.name for path in found)
        raise InputError(f"{input_dir} holds both {names}: keep one file per stream")
    return found[0] if found else None


def check_input_dir(input_dir: Path) -> None:
    if not input_dir.exists():
        raise InputError(f"input folder {input_dir} does not exist")
    if not input_dir.is_dir():
        raise InputError(f"--input {input_dir} is not a folder")


UTF8_BOM = b"\xef\xbb\xbf"
#: JSON Lines are read in blocks of this size and split at ``\n`` (a line longer than a block
#: spans several reads)
_CHUNK_BYTES = 1 << 20


def read_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line, raw)`` pairs, line 1-based. Parquet rows become one JSON object each.

    Lines end at ``\\n``; the terminator (``\\n`` or ``\\r\\n``) is not part of the
    record, and a last line without one is a record too. A UTF-8 byte-order mark
    at the very start of the file marks the file's encoding (editors on Windows
    write one) and is not part of line 1; anywhere else it stays in the bytes
    (and the line is then rejected as ``invalid_json``).
    """
    if path.suffix == ".parquet":
        yield from _parquet_records(path)
        return
    number = 0
    pending: list[bytes] = []  # the bytes after the last terminator read so far
    unterminated = False  # bytes were read after the last terminator (a BOM counts as some)
    with path.open("rb") as handle:
        head = handle.read(len(UTF8_BOM))
        if head == UTF8_BOM:
            unterminated, head = True, b""
        blocks = iter(partial(handle.read, _CHUNK_BYTES), b"")
        for chunk in chain((head,) if head else (), blocks):
            unterminated = not chunk.endswith(b"\n")
            if b"\n" not in chunk:  # a long line: joined once, when its end is read
                pending.append(chunk)
                continue
            lines = (b"".join([*pending, chunk]) if pending else chunk).split(b"\n")
            last = lines.pop()
            pending = [last] if last else []
            for line in lines:
                number += 1
                yield number, line[:-1] if line.endswith(b"\r") else line
    if unterminated:  # a last line without a terminator is a record too, its bytes as they are
        yield number + 1, b"".join(pending)


def count_records(path: Path) -> int:
    """How many records :func:`read_records` yields for ``path``, counted independently.

    JSON Lines: the ``\\n`` bytes, plus one for a last line without one. Parquet:
    the row count of the file's metadata. The ingest ledger compares this with
    the outcomes of the lines (accepted + rejected + replays + late).
    """
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return int(pq.ParquetFile(path).metadata.num_rows)
        except Exception as err:  # an unreadable file is an input error, not a crash
            raise InputError(f"{path} is not a readable Parquet file: {err}") from err
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _parquet_records(path: Path) -> Iterator[tuple[int, bytes]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as err:  # an unreadable file is an input error, not a crash
        raise InputError(f"{path} is not a readable Parquet file: {err}") from err
    number = 0
    for batch in parquet.iter_batches(batch_size=65_536):
        for row in batch.to_pylist():
            number += 1
            yield number, orjson.dumps(row, option=orjson.OPT_NAIVE_UTC)
