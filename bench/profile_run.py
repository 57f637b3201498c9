"""CPU profile of the Flink step of ``pulse run``, from Java Flight Recorder execution samples.

    .venv/bin/python bench/profile_run.py [--creators 1000] [--days 28] [--seed 7]
        [--keep FILE.jfr] [--json FILE] [--jfr FILE.jfr]

1. Runs ``pulse run`` on bench_run's data set (fresh warehouse, ``--no-report``) with
   ``JVM_ARGS`` starting a flight recording in the Flink JVM (``settings=profile``;
   ``dumponexit``: written when the JVM exits, also on the SIGTERM with which pulse stops it
   after the Flink step; the script fails if no recording was written). The JVM lives from
   the planning (which runs while the ingest step does) to the end of the Flink step, so the
   profile is the planning plus the Flink job. ``--jfr FILE`` analyses an existing recording
   instead; ``--keep FILE`` keeps the recording of the run.
2. Reads the ``jdk.ExecutionSample`` events with the JDK's ``jfr print`` (stacks cut at
   64 frames). JFR samples the Java stacks of a few running threads every 10 ms: samples are
   shares, not CPU seconds (the ``jdk.CPULoad`` line gives the JVM's CPU use). Threads in
   GC, JIT, waiting or in native code are not sampled.
3. Prints, each with samples and percent of all samples:
   * categories: each sample goes to exactly ONE category, the FIRST one matched walking its
     stack from the top frame (the running method) down, i.e. the innermost recognisable
     piece of work: JSON parsing called by the file source is "JSON decoding", state access
     called by a window operator "state backend", a record copy between chained operators
     "serialization / record copying". Frames of generic code (java.*, shaded jackson,
     binary rows and memory segments, Flink utils, see NEUTRAL) match no category: the walk
     goes on to their caller. Stacks without a match are "flink (other)" when they hold Flink
     frames, else "other". Shares add up to 100 %;
   * the top leaf methods (the top frame of each sample, generic code included);
   * the top operator frames: the first frame, from the top down, of a Flink operator (a class
     in an ``operators`` package, named ``...Operator`` or a generated ``StreamExec...$N``;
     not the plumbing that passes records and timers between operators): which operator the
     CPU worked for. Source fetcher threads and start-up have none;
   * the top 15 threads (Flink names task threads after their operator chains).
   ``--json FILE`` also writes these numbers as JSON.
Frames are ``package.Class.method``: lambdas lose their per-run numbers and the pieces of a
method split by Flink's code splitter (``processElement_split12``) count as the method.
Generated classes keep the planner's numbers (``StreamExecCalc$39``): the same job gets the
same numbers, and they tell the job's Calcs apart.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_run import ROOT, bench_data, pulse_run_command, step_seconds

from pipelines.config import environment_for_children, platform_variable

STACK_DEPTH = 64
TOP = 25

# Frames of generic code, skipped when looking for a category: the walk goes on to the Flink
# code that called them (jackson called by the JSON format, a HashMap or a BinaryRowData's
# hashCode/equals called by the state backend, a BytesMap called by a window buffer).
NEUTRAL: tuple[str, ...] = (
    "java.",
    "javax.",
    "jdk.",
    "sun.",
    "com.sun.",
    "org.apache.flink.shaded.",
    "org.apache.flink.table.shaded.com.",
    "org.apache.flink.table.data.",
    "org.apache.flink.core.memory.",
    "org.apache.flink.core.fs.",  # file streams: read by the source, written by the sink
    "org.apache.flink.runtime.memory.",
    "org.apache.flink.types.",
    "org.apache.flink.util.",
    "org.apache.flink.table.utils.",
    "org.apache.flink.table.runtime.util.",
    "org.apache.flink.table.api.dataview.",  # a MapView in an accumulator: a HashMap
)

# (category, substrings of a frame's "package.Class.method"), checked in this order on each
# frame. Generated classes have no package: StreamExecCalc$12, LocalWindowAggsHandler$69.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "planning / code generation",
        (
            "org.apache.calcite.",
            "org.apache.flink.table.planner.",
            "org.codehaus.",
            "org.apache.flink.table.codesplit.",
            "org.apache.flink.table.shaded.org.antlr.",
            "org.apache.flink.table.runtime.generated.CompileUtils",
            "org.apache.flink.table.api.internal.",
            "org.apache.flink.table.api.bridge.",
            "org.apache.flink.table.factories.",
            "org.apache.flink.table.catalog.",
            "org.apache.flink.table.operations.",
            "org.apache.flink.table.types.",
        ),
    ),
    (
        "start-up / coordination (JVM, mini-cluster, RPC, job submission)",
        (
            "org.apache.logging.",
            "org.apache.pekko.",
            "py4j.",
            "org.apache.flink.client.",
            "org.apache.flink.runtime.rpc.",
            "org.apache.flink.runtime.minicluster.",
            "org.apache.flink.runtime.dispatcher.",
            "org.apache.flink.runtime.jobmaster.",
            "org.apache.flink.runtime.scheduler.",
            "org.apache.flink.runtime.executiongraph.",
            "org.apache.flink.runtime.taskexecutor.",
            "org.apache.flink.runtime.blob.",
            "org.apache.flink.runtime.metrics.",
            "org.apache.flink.core.classloading.",
            "org.apache.flink.streaming.api.graph.",
        ),
    ),
    (
        "JSON decoding (source format)",
        (
            "org.apache.flink.formats.json.JsonRowDataDeserializationSchema",
            "org.apache.flink.formats.json.JsonParserRowDataDeserializationSchema",
            "org.apache.flink.formats.json.JsonToRowDataConverters",
            "org.apache.flink.formats.json.JsonParserToRowDataConverters",
            "org.apache.flink.formats.json.JsonDeserializ",
        ),
    ),
    (
        "JSON encoding (sink format)",
        (
            "org.apache.flink.formats.json.JsonRowDataSerializationSchema",
            "org.apache.flink.formats.json.RowDataToJsonConverters",
            "org.apache.flink.formats.json.JsonSerializ",
        ),
    ),
    (
        "file source (reading)",
        (
            "org.apache.flink.connector.file.src.",
            "org.apache.flink.connector.base.source.",
            "org.apache.flink.api.common.io.",
            "org.apache.flink.connector.file.table.DeserializationSchemaAdapter",
        ),
    ),
    (
        "file sink (writing)",
        (
            "org.apache.flink.connector.file.sink.",
            "org.apache.flink.connector.file.table.stream.",
            "org.apache.flink.connector.file.table.FileSystemTableSink",
            "org.apache.flink.streaming.api.functions.sink.filesystem.",
            "org.apache.flink.streaming.runtime.operators.sink.",
        ),
    ),
    (
        "timers / watermarks",
        (
            "HeapPriorityQueue",
            "KeyGroupPartitionedPriorityQueue",
            "TimerHeapInternalTimer",
            "InternalTimerServiceImpl",
            "InternalTimeServiceManager",
            "WatermarkGenerator",
            "org.apache.flink.table.runtime.operators.wmassigners.",
            "org.apache.flink.streaming.runtime.watermarkstatus.",
            "org.apache.flink.api.common.eventtime.",
            "AbstractStreamOperator.processWatermark",
            "AbstractStreamOperator.emitWatermark",
            "TableStreamOperator.processWatermark",
            "processWatermark",
        ),
    ),
    (
        "keying (key selectors, key groups, partitioners)",
        (
            "org.apache.flink.table.runtime.keyselector.",
            "KeyProjection$",
            "org.apache.flink.streaming.runtime.partitioner.",
            "org.apache.flink.runtime.state.KeyGroupRangeAssignment",
        ),
    ),
    (
        "state backend",
        (
            "org.apache.flink.runtime.state.",
            "org.apache.flink.contrib.streaming.state.",
            "org.apache.flink.state.",
            "org.apache.flink.table.runtime.dataview.",
            "org.apache.flink.table.runtime.operators.window.tvf.state.",
            "org.apache.flink.streaming.api.operators.StreamOperatorStateHandler",
        ),
    ),
    (
        "serialization / record copying",
        (
            "org.apache.flink.table.runtime.typeutils.",
            "org.apache.flink.api.common.typeutils.",
            "org.apache.flink.api.java.typeutils.",
            "org.apache.flink.table.data.writer.",
            "org.apache.flink.runtime.plugable.",
            "org.apache.flink.streaming.runtime.streamrecord.StreamElementSerializer",
            "org.apache.flink.runtime.io.network.api.serialization.",
        ),
    ),
    (
        "interval join",
        ("IntervalJoin", "org.apache.flink.table.runtime.operators.join.interval."),
    ),
    (
        "temporal join",
        ("TemporalRowTimeJoin", "TemporalProcessTimeJoin", "operators.join.temporal."),
    ),
    (
        "window aggregation",
        (
            "WindowAggsHandler$",
            "org.apache.flink.table.runtime.operators.window.",
            "org.apache.flink.table.runtime.operators.aggregate.window.",
        ),
    ),
    (
        "deduplication / rank / over",
        (
            "org.apache.flink.table.runtime.operators.deduplicate.",
            "org.apache.flink.table.runtime.operators.rank.",
            "org.apache.flink.table.runtime.operators.over.",
        ),
    ),
    ("regular join", ("org.apache.flink.table.runtime.operators.join.",)),
    ("group aggregation", ("org.apache.flink.table.runtime.operators.aggregate.", "AggsHandler$")),
    ("calc / projections (generated code)", ("StreamExecCalc$", "ConditionFunction$")),
    (
        "python (pemja / embedded)",
        ("pemja.", "org.apache.flink.python.", "org.apache.flink.streaming.api.operators.python."),
    ),
    (
        "network / task plumbing",
        (
            "org.apache.flink.runtime.io.",
            "org.apache.flink.streaming.runtime.io.",
            "org.apache.flink.streaming.runtime.tasks.",
            "org.apache.flink.runtime.taskmanager.",
            "org.apache.flink.streaming.api.operators.",
            "org.apache.flink.table.runtime.operators.",
        ),
    ),
)
FLINK_OTHER = "flink (other)"  # no category in the stack, but Flink frames
OTHER = "other"

# operator frames: a class in an operators package, named ...Operator or generated for an
# operator (StreamExecCalc$12); not the plumbing every record passes through between operators
OPERATOR_CLASS = re.compile(r"\.operators\.|Operator(\$|$)|^StreamExec\w+\$\d+$")
NOT_OPERATOR = re.compile(
    r"Output|Collector|StreamOperatorWrapper|InternalTime|AbstractStreamOperator|"
    r"StreamingRuntimeContext|TimerHeapInternalTimer|KeyContext|StreamOperatorStateHandler|"
    r"^Generated"
)


def normalise(frame: str) -> str:
    """``package.Class.method`` of a ``jfr print`` frame without what changes from run to run
    (lambda numbers and addresses) and with the pieces of a method split by Flink's code
    splitter (``processElement_split148``) counted as the method."""
    name = frame.split("(", 1)[0].strip()
    name = re.sub(r"/0x[0-9a-f]+", "", name)
    name = re.sub(r"\$\$Lambda\$\d+", "$$Lambda", name)
    return re.sub(r"_split\d+$", "", name)


def class_of(name: str) -> str:
    return name.rsplit(".", 1)[0]


def category_of(stack: list[str]) -> str:
    for frame in stack:
        if frame.startswith(NEUTRAL):
            continue
        for category, patterns in CATEGORIES:
            if any(pattern in frame for pattern in patterns):
                return category
    return FLINK_OTHER if any(frame.startswith("org.apache.flink.") for frame in stack) else OTHER


def operator_of(stack: list[str]) -> str:
    for frame in stack:
        cls = class_of(frame)
        if OPERATOR_CLASS.search(cls) and not NOT_OPERATOR.search(cls.rsplit(".", 1)[-1]):
            return frame
    return "(no operator frame)"


@dataclass
class Profile:
    """The execution samples of one recording, counted."""

    samples: int = 0
    truncated: int = 0  # stacks deeper than STACK_DEPTH (cut by jfr print)
    categories: Counter[str] = field(default_factory=Counter)
    leaves: Counter[str] = field(default_factory=Counter)
    operators: Counter[str] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)

    def add(self, thread: str, stack: list[str], truncated: bool) -> None:
        self.samples += 1
        self.truncated += truncated
        self.categories[category_of(stack)] += 1
        self.leaves[stack[0] if stack else "(no frames)"] += 1
        self.operators[operator_of(stack)] += 1
        # task threads are named "<operator chain> (1/1)#0": the chain, without the attempt
        self.threads[re.sub(r"#\d+$", "", thread)] += 1


def jfr_tool() -> Path:
    """The JDK's ``jfr`` tool: in ``JAVA_HOME`` (as PyFlink uses it), else next to ``java``."""
    candidates = []
    home = platform_variable("JAVA_HOME")
    if home:
        candidates.append(Path(home) / "bin" / "jfr")
    java = shutil.which("java")
    if java:
        candidates.append(Path(java).resolve().parent / "jfr")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SystemExit(f"the JDK's jfr tool was not found (looked at {candidates or 'no java'})")


SAMPLE = "jdk.ExecutionSample {"
THREAD = re.compile(r'^\s*sampledThread = "(.*)" \(javaThreadId = \d+\)')


def execution_samples(jfr: Path) -> Iterator[tuple[str, list[str], bool]]:
    """``(thread, frames from the top down, truncated)`` of each execution sample, streamed
    from ``jfr print`` (its text format: a frame per line inside ``stackTrace = [ ... ]``)."""
    cmd = [
        str(jfr_tool()),
        "print",
        "--events",
        "jdk.ExecutionSample",
        "--stack-depth",
        str(STACK_DEPTH),
        str(jfr),
    ]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        thread, in_stack, truncated = "", False, False
        stack: list[str] = []
        for line in proc.stdout:
            text = line.strip()
            if text == SAMPLE:
                thread, stack, in_stack, truncated = "", [], False, False
            elif in_stack:
                if text == "]":
                    in_stack = False
                elif text == "...":
                    truncated = True
                elif text:
                    stack.append(normalise(text))
            elif text.startswith("stackTrace = ["):
                in_stack = True
            elif text == "}":
                yield thread, stack, truncated
            elif match := THREAD.match(line):
                thread = match.group(1)
        errors = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} print failed ({proc.returncode}): {errors.strip()}")


def jvm_cpu(jfr: Path) -> dict[str, float]:
    """The JVM's CPU use from the recording's ``jdk.CPULoad`` events (one a second): seconds
    covered, and the mean share of the whole machine (all cores) used by the JVM and by all
    processes."""
    cmd = [str(jfr_tool()), "print", "--json", "--events", "jdk.CPULoad", str(jfr)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    loads = [event["values"] for event in json.loads(out)["recording"]["events"]]
    if not loads:
        return {}
    return {
        "seconds": len(loads),
        "jvm_percent": round(
            100 * sum(v["jvmUser"] + v["jvmSystem"] for v in loads) / len(loads), 1
        ),
        "machine_percent": round(100 * sum(v["machineTotal"] for v in loads) / len(loads), 1),
    }


def analyse(jfr: Path) -> Profile:
    profile = Profile()
    for thread, stack, truncated in execution_samples(jfr):
        profile.add(thread, stack, truncated)
    if profile.samples == 0:
        raise SystemExit(f"{jfr}: no jdk.ExecutionSample events (was it recorded with a profile?)")
    return profile


def run_recorded(data: Path, days: int, jfr: Path, log: Path) -> tuple[float, dict[str, str]]:
    """Run ``pulse run`` on ``data`` with a flight recording of its Flink JVM into ``jfr``;
    return the wall time and the step times of its log."""
    record = f"-XX:StartFlightRecording=filename={jfr},settings=profile,dumponexit=true"
    env = environment_for_children()
    env["JVM_ARGS"] = f"{env.get('JVM_ARGS', '')} {record}".strip()
    cmd = pulse_run_command(data, jfr.parent / "wh", days)
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pulse run failed ({done.returncode}); see {log}")
    if not jfr.is_file() or jfr.stat().st_size == 0:
        raise SystemExit(
            f"no flight recording at {jfr} after pulse run: the Flink JVM did not dump it on exit"
            f" (killed before its shutdown hooks ran?); JVM_ARGS was {env['JVM_ARGS']!r}; see {log}"
        )
    return wall, step_seconds(log.read_text())


def ranked(counts: Counter[str], total: int, limit: int | None) -> list[dict[str, Any]]:
    return [
        {"name": name, "samples": n, "percent": round(100 * n / total, 2)}
        for name, n in counts.most_common(limit)
    ]


def report(jfr: Path, profile: Profile) -> dict[str, Any]:
    total = profile.samples
    categories = ranked(profile.categories, total, None)
    return {
        "jvm_cpu": jvm_cpu(jfr),
        "samples": total,
        "truncated_stacks": profile.truncated,
        "stack_depth": STACK_DEPTH,
        "categories": categories,
        "leaf_methods": ranked(profile.leaves, total, TOP),
        "operator_frames": ranked(profile.operators, total, TOP),
        "threads": ranked(profile.threads, total, 15),
    }


def print_table(title: str, rows: list[dict[str, Any]]) -> None:
    print(f"\n{title}")
    for row in rows:
        print(f"  {row['samples']:7,} {row['percent']:6.2f} %  {row['name']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creators", type=int, default=1000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="keep the run's recording as this .jfr file")
    parser.add_argument("--jfr", type=Path, help="analyse this recording (no run)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args()

    result: dict[str, Any] = {}
    if args.jfr:
        jfr = args.jfr
        print(f"recording: {jfr} ({jfr.stat().st_size / 1e6:,.1f} MB)")
        result = {"recording": str(jfr), **report(jfr, analyse(jfr))}
    else:
        data = bench_data(args.creators, args.days, args.seed)
        print(f"data set: {data}")
        tmp = Path(tempfile.mkdtemp(prefix="pulse-profile-"))
        jfr = tmp / "run.jfr"
        wall, steps = run_recorded(data, args.days, jfr, tmp / "run.log")  # keeps tmp if failed
        try:
            times = ", ".join(f"{step} {seconds}s" for step, seconds in steps.items())
            print(f"pulse run: {wall:.1f} s wall; steps: {times}")
            print(f"recording: {jfr.stat().st_size / 1e6:,.1f} MB")
            if args.keep:  # before the analysis: kept even if that fails
                args.keep.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(jfr, args.keep)
                print(f"kept as {args.keep}")
            result = {
                "recording": str(args.keep) if args.keep else None,
                "wall_s": round(wall, 1),
                "steps_s": steps,
                **report(jfr, analyse(jfr)),
            }
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    if cpu := result["jvm_cpu"]:
        print(
            f"\nJVM CPU (jdk.CPULoad): {cpu['jvm_percent']:.1f} % of the machine (all cores) on"
            f" average over {cpu['seconds']:.0f} s; all processes: {cpu['machine_percent']:.1f} %"
        )
    print(
        f"\nexecution samples: {result['samples']:,} (Java stacks, cut at {STACK_DEPTH} frames:"
        f" {result['truncated_stacks']:,} were deeper)"
    )
    print_table("by category (first match from the top frame down):", result["categories"])
    print_table(f"top {TOP} leaf methods (top frame):", result["leaf_methods"])
    print_table(f"top {TOP} operator frames (first from the top):", result["operator_frames"])
    print_table("threads:", result["threads"])
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwritten: {args.json}")


if __name__ == "__main__":
    main()
