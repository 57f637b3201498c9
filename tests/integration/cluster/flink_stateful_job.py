"""A tiny stateful PyFlink job for ``test_flink_cluster.py``, submitted with ``flink run``.

datagen (Table API) -> a Python keyed process function counting per key in keyed state
(``ValueState``, on the TaskManagers, in PemJa's thread mode as the streaming job's duplicate
scan) -> a SQL aggregation (keyed state of the planner) -> blackhole. Built with the streaming
job's own :func:`~pipelines.flink.job.create_table_environment` and uid options, and run the
same way (``-- --submit``): submit, print the job id, return.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from pipelines.flink.job import STABLE_UID_OPTIONS, FlinkOptions, create_table_environment

KEYS = 16


class CountPerKey(KeyedProcessFunction):  # type: ignore[misc]
    """Counts the events of each key in keyed state; emits (key, count so far)."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.count = runtime_context.get_state(ValueStateDescriptor("count", Types.LONG()))

    def process_element(self, value: Any, ctx: Any) -> Iterator[Row]:
        n = (self.count.value() or 0) + 1
        self.count.update(n)
        yield Row(int(value[0]) % KEYS, n)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flink_stateful_job.py")
    parser.add_argument("--submit", action="store_true")
    parser.add_argument("--rows-per-second", type=int, default=50)
    parser.add_argument("--checkpoint-interval-ms", type=int, default=1000)
    args = parser.parse_args(argv)

    options = FlinkOptions(
        parallelism=None,  # flink run -p
        checkpoint_interval_ms=args.checkpoint_interval_ms,
        extra=(("pipeline.name", "cluster-test-stateful"), *STABLE_UID_OPTIONS),
    )
    t_env = create_table_environment(options)
    t_env.execute_sql(
        "CREATE TABLE events (user_id BIGINT, amount INT) WITH ("
        "'connector' = 'datagen', "
        f"'rows-per-second' = '{args.rows_per_second}', "
        "'fields.user_id.min' = '1', 'fields.user_id.max' = '1000', "
        "'fields.amount.min' = '1', 'fields.amount.max' = '9')"
    )
    counted = (
        t_env.to_data_stream(t_env.from_path("events"))
        .key_by(lambda row: int(row[0]) % KEYS, key_type=Types.LONG())
        .process(
            CountPerKey(),
            output_type=Types.ROW_NAMED(["k", "n"], [Types.LONG(), Types.LONG()]),
        )
        .name("count-per-key")
        .uid("count-per-key")
    )
    t_env.create_temporary_view("counted", t_env.from_data_stream(counted))
    t_env.execute_sql("CREATE TABLE sink (k BIGINT, n BIGINT) WITH ('connector' = 'blackhole')")
    statements = t_env.create_statement_set()
    statements.add_insert_sql("INSERT INTO sink SELECT k, MAX(n) FROM counted GROUP BY k")
    result = statements.execute()
    print(f"submitted job {result.get_job_client().get_job_id()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
