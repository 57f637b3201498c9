"""Stopping the Flink JVM that PyFlink launched in this process (``pulse run`` after its
Flink step): the JVM exits, and PyFlink can start a new one afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration

_SCRIPT = textwrap.dedent(
    """
    import json, os
    from pyflink.java_gateway import get_gateway
    from pipelines.flink.local_jvm import stop_local_jvm

    before = stop_local_jvm()  # no JVM yet
    first = int(get_gateway().jvm.java.lang.ProcessHandle.current().pid())
    stopped = stop_local_jvm()
    try:
        os.kill(first, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    second = int(get_gateway().jvm.java.lang.ProcessHandle.current().pid())
    answer = int(get_gateway().jvm.java.lang.Math.addExact(40, 2))
    stop_local_jvm()
    print(json.dumps(dict(before=before, first=first, stopped=stopped, alive=alive,
                          second=second, answer=answer)))
    """
)


def test_the_jvm_is_gone_after_stop_and_a_new_one_can_start() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] is None
    assert seen["stopped"] == seen["first"]
    assert seen["alive"] is False  # exited and reaped: not even a zombie
    assert seen["second"] != seen["first"]
    assert seen["answer"] == 42
