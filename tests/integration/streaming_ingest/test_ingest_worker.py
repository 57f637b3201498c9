"""The streaming ingest worker against a real broker: routing, keys, dead letters, late
events, Kafka's console producer as a client, and kill -9 + restart (exactly once)."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from typing import Any

import orjson
import pytest

from pipelines.local.kafka_command import kafka_java_command

from .conftest import Ingest

pytestmark = pytest.mark.integration

MIN = 60_000
HOUR = 60 * MIN
BASE = int(time.time() * 1000) - 24 * HOUR


def view(event_id: str, t: int, user: str) -> bytes:
    return orjson.dumps(
        {
            "event_id": event_id,
            "event_time": t,
            "user_id": user,
            "video_id": "vid1",
            "creator_id": "c1",
            "watch_time_ms": 5,
            "country": "US",
            "user_agent": "Mozilla/5.0",
        }
    )


def console_produce(ingest: Ingest, topic: str, lines: list[str]) -> None:
    cmd = kafka_java_command(
        "org.apache.kafka.tools.ConsoleProducer",
        [
            *("--bootstrap-server", ingest.broker.bootstrap, "--topic", ingest.topic(topic)),
            *("--reader-property", "parse.key=true", "--reader-property", "key.separator=|"),
        ],
        short_lived=True,
    )
    res = subprocess.run(
        cmd, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60, check=False
    )
    assert res.returncode == 0, res.stderr


def test_routing_keys_dead_letters_late_and_console_producer(ingest: Ingest) -> None:
    good = [(f"u{i % 3}", view(f"e{i}", BASE + i * MIN, f"u{i % 3}")) for i in range(12)]
    bad = [b"{not json", b"\xff\xfe", b'{"event_id": "x1"}', view("fut", BASE + 48 * HOUR, "u0")]
    late = view("late1", BASE - 3 * HOUR, "u0")
    messages: list[tuple[bytes | None, bytes]] = [(u.encode(), v) for u, v in good]
    messages += [(None, b) for b in bad]
    messages += [(b"u0", good[0][1])]  # an exact replay
    ingest.produce("raw.views", messages)
    console_event = json.loads(view("console1", BASE + 5 * MIN, "u7"))
    console_produce(ingest, "raw.views", [f"u7|{json.dumps(console_event)}"])

    # lateness is judged per raw partition: u0's partition has seen u0's events
    ingest.start_worker()
    assert ingest.wait_count("clean.views", 13) == 13, ingest.logs()[-4000:]
    assert ingest.wait_count("deadletter.rejected", 4) == 4
    time.sleep(3.0)
    ingest.produce("raw.views", [(b"u0", late)])  # a late event
    assert ingest.wait_count("results.late_events", 1) == 1
    time.sleep(1.0)  # nothing more arrives (the replay is dropped)

    clean = ingest.read("clean.views")
    assert len(clean) == 13
    ids = sorted(orjson.loads(r.value)["event_id"] for r in clean)
    assert ids == sorted([f"e{i}" for i in range(12)] + ["console1"])
    for rec in clean:
        assert rec.key == orjson.loads(rec.value)["user_id"].encode()
    by_user: dict[bytes, set[int]] = {}
    for rec in clean:
        by_user.setdefault(rec.key, set()).add(rec.partition)
    assert all(len(parts) == 1 for parts in by_user.values())

    dead = [orjson.loads(r.value) for r in ingest.read("deadletter.rejected")]
    dead_keys = {r.key for r in ingest.read("deadletter.rejected")}
    assert dead_keys == {ingest.topic("raw.views").encode()}
    reasons = sorted(d["reason"] for d in dead)
    assert reasons == ["future_event_time", "invalid_json", "invalid_json", "missing_field"]
    for d in dead:
        assert d["stream"] == "view"
        assert d["source"].startswith(ingest.topic("raw.views") + "/")
        assert isinstance(d["offset"], int) and d["offset"] >= 0
    binary = next(d for d in dead if d["raw"] is None)
    assert binary["raw_b64"] == "//4="
    # the dead letter points at the exact raw message
    raw_msgs = {(r.partition, r.offset): r.value for r in ingest.read("raw.views")}
    for d in dead:
        partition = int(d["source"].rsplit("/", 1)[1])
        assert raw_msgs[(partition, d["offset"])] is not None

    (late_rec,) = [orjson.loads(r.value) for r in ingest.read("results.late_events")]
    assert late_rec["event_id"] == "late1" and late_rec["stream"] == "view"
    assert late_rec["event_time"] == BASE - 3 * HOUR
    assert late_rec["reason"] == "beyond_allowed_lateness"
    assert late_rec["event_time"] < late_rec["watermark"] - HOUR
    assert late_rec["raw"] == late.decode()
    assert all(p.poll() is None for p in ingest.procs), ingest.logs()[-4000:]
    assert "Traceback" not in ingest.logs()


def test_kill_9_and_restart_every_output_exactly_once(ingest: Ingest) -> None:
    n, replays, malformed = 60_000, 600, 60
    messages: list[tuple[bytes | None, bytes]] = []
    for i in range(n):
        user = f"u{i % 997}"
        messages.append((user.encode(), view(f"k{i}", BASE + i * 10, user)))
        if i % (n // replays) == 0:  # an exact replay a little later
            messages.append((user.encode(), view(f"k{i}", BASE + i * 10, user)))
        if i % (n // malformed) == 0:
            messages.append((None, b"{broken %d" % i))
    ingest.produce("raw.views", messages)

    first = ingest.start_worker(PULSE_INGEST__MAX_BATCH="2000")
    deadline = time.monotonic() + 60
    while ingest.count("clean.views") < n // 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    at_kill = ingest.count("clean.views")
    assert 0 < at_kill < n, f"kill did not land mid-stream ({at_kill})"

    ingest.start_worker(PULSE_INGEST__MAX_BATCH="2000")
    assert ingest.wait_count("clean.views", n, timeout=60) >= n, ingest.logs()[-4000:]
    assert ingest.wait_count("deadletter.rejected", malformed) >= malformed
    time.sleep(2.0)  # would-be duplicates have time to arrive

    clean = ingest.read("clean.views")
    ids = [orjson.loads(r.value)["event_id"] for r in clean]
    assert len(ids) == n, f"{len(ids) - len(set(ids))} duplicates, {n - len(set(ids))} missing"
    assert set(ids) == {f"k{i}" for i in range(n)}
    dead = [orjson.loads(r.value) for r in ingest.read("deadletter.rejected")]
    assert len(dead) == malformed
    assert len({(d["source"], d["offset"]) for d in dead}) == malformed
    assert ingest.count("results.late_events") == 0
    assert ingest.procs[-1].poll() is None, ingest.logs()[-4000:]

    # The ledger: one record per batch and raw partition; the redone batch's record replaces
    # the crashed batch's (same key, as in raw_ingest_ledger: the last record of a key wins),
    # so the records in force count every raw message exactly once.
    records = [orjson.loads(r.value) for r in ingest.read("results.ingest_ledger")]
    in_force: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for rec in records:
        in_force[(rec["stream"], rec["source"], rec["run_id"], rec["first_position"])] = rec
    rows = list(in_force.values())
    assert {r["source"] for r in rows} == {ingest.topic("raw.views") + f"/{p}" for p in (0, 1)}
    for row in rows:
        assert row["run_id"] == f"{row['source']}@{row['first_position']}"
        assert row["lines"] == row["accepted"] + row["rejected"] + row["replays"] + row["late"]
    assert sum(r["lines"] for r in rows) == len(messages)
    assert sum(r["accepted"] for r in rows) == n
    assert sum(r["rejected"] for r in rows) == malformed
    assert sum(r["replays"] for r in rows) == replays
    assert sum(r["late"] for r in rows) == 0
    for source in {r["source"] for r in rows}:
        spans = sorted(
            (r["first_position"], r["last_position"]) for r in rows if r["source"] == source
        )
        assert all(a[1] < b[0] for a, b in itertools.pairwise(spans)), spans


def test_quiet_partitions_get_watermark_markers_with_their_clock(ingest: Ingest) -> None:
    # four users over the two raw partitions of views; no comment is produced
    users = ["u0", "u1", "u2", "u3"]
    events = [(u, view(f"m{i}", BASE + i * MIN, u)) for i, u in enumerate(users * 3)]
    ingest.produce("raw.views", [(u.encode(), v) for u, v in events])
    ingest.start_worker(PULSE_INGEST__WATERMARK_MARKER_INTERVAL_S="0.5")
    assert ingest.wait_count("clean.views", len(events)) >= len(events), ingest.logs()[-4000:]
    time.sleep(3.0)  # several marker rounds of a quiet stack

    records = ingest.read("clean.views", markers=True)
    events_in: dict[int, list[int]] = {}
    markers_in: dict[int, list[int]] = {}
    for rec in records:
        value = orjson.loads(rec.value)
        marker = dict(rec.headers).get("pulse-marker") == b"1"
        (markers_in if marker else events_in).setdefault(rec.partition, []).append(
            value["event_time"]
        )
        if marker:
            assert value == {"event_time": value["event_time"]} and rec.key is None
    assert sum(len(v) for v in events_in.values()) == len(events)
    # every partition with events gets markers, each at the newest event time it carried,
    # and only after its events (a marker never runs ahead of its partition)
    assert set(markers_in) == set(events_in)
    for partition, times in markers_in.items():
        assert len(times) >= 2, times
        assert set(times) == {max(events_in[partition])}
    for partition in markers_in:
        in_order = [r for r in records if r.partition == partition]
        first_marker = next(
            i for i, r in enumerate(in_order) if dict(r.headers).get("pulse-marker")
        )
        assert all(not dict(r.headers).get("pulse-marker") for r in in_order[:first_marker])
        assert first_marker == len(events_in[partition])
    # markers are not events: no comment partition got one, the reader helper skips them
    assert ingest.read("clean.comments", markers=True) == []
    assert len(ingest.read("clean.views")) == len(events)
    assert "Traceback" not in ingest.logs()
