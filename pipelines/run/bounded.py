"""``pulse run``: the whole contract over a folder of files, into the warehouse.

Steps (each named; the same names appear in logs and metrics):
``ingest`` (validate, replays, late) -> ``warehouse-raw`` (rejected, late, dims,
the ingest ledger) -> ``flink`` (the job on a local mini-cluster, file
connectors; its JVM is stopped once the job ends) -> ``load`` (results into the
warehouse) -> ``rollup`` (daily payouts rebuilt from the deduplicated clicks) ->
``books`` (changes of closed months booked as adjustments) -> ``finalize`` (merge
replaced rows).

How a run relates to what the warehouse holds already: result rows are keyed
by their business keys (click id, creator and window, ...), so a run over the
same or a larger input REPLACES the rows it recomputes and adds the new ones;
the dead letters of each file it reads replace those of earlier runs over the
same file (same path); the ledger gets one new row per file (a log of reads).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from pipelines.config import Settings
from pipelines.connectors.flink_files import FileConnector, clean_dir, results_dir
from pipelines.connectors.warehouse import Warehouse
from pipelines.errors import PulseError
from pipelines.flink.job import FlinkOptions, build_statements, create_table_environment
from pipelines.flink.local_jvm import stop_local_jvm
from pipelines.flink.schemas import CAMPAIGNS, CREATOR_PROFILES, SINKS
from pipelines.ingest.files import StreamIngest, ingest_folder
from pipelines.ingest.sources import check_input_dir, count_records
from pipelines.load.dims import read_dimension
from pipelines.load.ingest_rows import LedgerEntry, late_table, rejected_table
from pipelines.load.results import read_results
from pipelines.metrics import STEP_SECONDS, record_ingest
from pipelines.warehouse.books import LedgerCounts
from pipelines.warehouse.close import Adjustment, book_adjustments
from pipelines.warehouse.ledger import replace_rejected, write_ledger
from pipelines.warehouse.migrations import migrate
from pipelines.warehouse.rollups import rebuild_payouts

log = logging.getLogger(__name__)

JOB = "bounded"
StepListener = Callable[[str, str], None]  # (step, "start" | "done: ...")


@dataclass
class RunSummary:
    input_dir: Path
    reference_ms: int
    streams: list[StreamIngest] = field(default_factory=list)
    loaded: dict[str, int] = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)
    run_id: str = ""
    settings: Settings | None = None
    ledger: list[LedgerEntry] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)

    @property
    def input_lines(self) -> int:
        return sum(s.lines for s in self.streams)

    @property
    def seconds(self) -> float:
        return sum(self.step_seconds.values())


def _quiet_listener(step: str, what: str) -> None:
    log.info("%s: %s", step, what)


@contextmanager
def _step(summary: RunSummary, name: str, listener: StepListener) -> Iterator[None]:
    listener(name, "start")
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    summary.step_seconds[name] = elapsed
    STEP_SECONDS.labels(job=JOB, step=name).observe(elapsed)
    listener(name, f"done in {elapsed:.1f}s")


def run_bounded(
    input_dir: Path,
    settings: Settings,
    reference_ms: int,
    listener: StepListener = _quiet_listener,
    keep_work_dir: bool = False,
) -> RunSummary:
    """Run the pipeline over ``input_dir``; idempotent for the same input and clock."""
    check_input_dir(input_dir)
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    summary = RunSummary(input_dir, reference_ms, run_id=run_id, settings=settings)
    work_dir = Path(settings.work_dir) / run_id
    try:
        with Warehouse.connect(settings) as wh:
            with _step(summary, "migrate", listener):
                migrate(wh)
            planner = FlinkPlanner(work_dir, settings)
            with _step(summary, "ingest", listener):
                summary.streams = ingest_folder(
                    input_dir, work_dir / "clean", settings, reference_ms, started=planner.start
                )
                for stream in summary.streams:
                    record_ingest(JOB, stream)
                summary.ledger = ledger_entries(summary, int(time.time() * 1000))
                for entry in summary.ledger:
                    if not entry.counts.balanced:
                        log.error(
                            "ingest ledger of %s does not balance: %s lines, %s accounted",
                            entry.source,
                            entry.counts.lines,
                            entry.counts.accounted,
                        )
            with _step(summary, "warehouse-raw", listener):
                _load_raw(wh, summary, work_dir, reference_ms)
            with _step(summary, "flink", listener):
                statements = planner.result()
                listener("flink", f"planned in {planner.seconds:.1f}s while ingest ran")
                _wait_for_flink(statements, settings)
                # nothing below needs the JVM: its memory goes back before the warehouse work
                stop_local_jvm()
            with _step(summary, "load", listener):
                for sink in SINKS:
                    data = read_results(
                        results_dir(work_dir, sink.warehouse_table), sink.warehouse_table
                    )
                    summary.loaded[sink.warehouse_table] = wh.insert_arrow(
                        sink.warehouse_table, data
                    )
            with _step(summary, "rollup", listener):
                days = _click_days(wh, work_dir)
                rebuild_payouts(wh, days)
            with _step(summary, "books", listener):
                summary.adjustments = book_adjustments(wh, run_id)
            with _step(summary, "finalize", listener):
                for table in (*summary.loaded, "raw_rejected_events", "raw_late_events"):
                    wh.optimize_final(table)
                for table in (
                    "agg_creator_payouts_daily",
                    "dim_creator_profiles",
                    "dim_campaigns",
                    "raw_ingest_ledger",
                    "fct_payout_adjustments",
                ):
                    wh.optimize_final(table)
    finally:
        if not keep_work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    return summary


def ledger_entries(summary: RunSummary, recorded_ms: int) -> list[LedgerEntry]:
    """One ledger row per stream of the run; ``lines`` counted from the file itself."""
    entries = []
    for s in summary.streams:
        lines = count_records(Path(s.source)) if s.source else 0
        counts = LedgerCounts(
            lines=lines,
            accepted=s.accepted,
            rejected=len(s.rejected_rows),
            replays=s.replays,
            late=len(s.late_rows),
        )
        entries.append(
            LedgerEntry(
                run_id=summary.run_id,
                stream=s.stream.value,
                source=s.source or "",
                position_kind="line",
                first_position=1 if lines else 0,
                last_position=lines,
                counts=counts,
                min_event_ms=s.min_time_ms,
                max_event_ms=s.max_time_ms,
                reference_ms=summary.reference_ms,
                recorded_ms=recorded_ms,
            )
        )
    return entries


def _load_raw(wh: Warehouse, summary: RunSummary, work_dir: Path, reference_ms: int) -> None:
    rejected = [row for s in summary.streams for row in s.rejected_rows]
    late = [row for s in summary.streams for row in s.late_rows]
    sources = [(s.stream.value, s.source) for s in summary.streams if s.source]
    summary.loaded["raw_rejected_events"] = replace_rejected(
        wh, sources, rejected_table(rejected, reference_ms)
    )
    summary.loaded["raw_ingest_ledger"] = write_ledger(wh, summary.ledger)
    summary.loaded["raw_late_events"] = wh.insert_arrow("raw_late_events", late_table(late))
    for source, table in ((CREATOR_PROFILES, "dim_creator_profiles"), (CAMPAIGNS, "dim_campaigns")):
        summary.loaded[table] = wh.insert_arrow(
            table, read_dimension(clean_dir(work_dir, source.stream), table)
        )


class FlinkPlanner:
    """Starts Flink's JVM and plans the job in a thread, while the ingest runs: neither needs
    the other (the file sources are only opened when the job starts), and the ingest's worker
    processes leave the driver's core idle. :meth:`result` waits for the plan."""

    def __init__(self, work_dir: Path, settings: Settings) -> None:
        self._work_dir = work_dir
        self._settings = settings
        self._thread = threading.Thread(target=self._plan, name="flink-planner", daemon=True)
        self._statements: Any = None
        self._error: BaseException | None = None
        self.seconds = 0.0

    def start(self) -> None:
        self._thread.start()

    def _plan(self) -> None:
        started = time.perf_counter()
        try:
            connector = FileConnector(self._work_dir)
            settings = self._settings
            options = FlinkOptions(
                parallelism=settings.flink.parallelism,
                jvm_heap=settings.flink.run_jvm_heap,
                # throughput over pause times, and less memory beside the heap than G1
                # (BENCHMARKS.md): a bounded job waits for its end, not for one record
                collector="ParallelGC",
            )
            t_env = create_table_environment(options)
            self._statements = build_statements(
                t_env, settings, connector.source_options, connector.sink_options
            )
        except BaseException as error:  # re-raised in the caller's thread by result()
            self._error = error
        finally:
            self.seconds = time.perf_counter() - started

    def result(self) -> Any:
        """The planned StatementSet (plans now if :meth:`start` was never called)."""
        if self._thread.ident is None:
            self._plan()
        else:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._statements


def _wait_for_flink(statements: Any, settings: Settings) -> None:
    """Execute the planned job and wait for its end; a heap too small is said in one sentence."""
    try:
        statements.execute().wait()
    except Exception as error:
        if "java.lang.OutOfMemoryError" not in str(error):
            raise
        heap = settings.flink.run_jvm_heap
        raise PulseError(
            f"the Flink job of pulse run ran out of memory in its {heap} heap: raise "
            "PULSE_FLINK__RUN_JVM_HEAP (flink.run_jvm_heap), e.g. to twice that"
        ) from error


def _click_days(wh: Warehouse, work_dir: Path) -> list[date]:
    """UTC days of the clicks this run wrote (their payouts are rebuilt)."""
    data = read_results(results_dir(work_dir, SINKS[0].warehouse_table), SINKS[0].warehouse_table)
    if data.num_rows == 0:
        return []
    import pyarrow.compute as pc

    days = pc.unique(pc.cast(data.column("event_time"), "date32"))
    return sorted(days.to_pylist())
