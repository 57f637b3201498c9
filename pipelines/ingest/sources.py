"""Input files of a bounded run: which file holds which stream, and its records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from pipelines.domain.events import Stream
from pipelines.errors import InputError

# DOMAIN stream -> file stem in the input folder (`views.jsonl`, `views.parquet`, ...)
FILE_STEMS: dict[Stream, str] = {
    Stream.VIEW: "views",
    Stream.COMMENT: "comments",
    Stream.AD_CLICK: "ad_clicks",
    Stream.CREATOR_PROFILE: "creator_profiles",
    Stream.CAMPAIGN: "campaigns",
}
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


def read_records(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(line, raw)`` pairs, line 1-based. Parquet rows become one JSON object each."""
    if path.suffix == ".parquet":
        yield from _parquet_records(path)
        return
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            yield number, line.rstrip(b"\r\n")


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
