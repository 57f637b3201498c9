"""The JVM PyFlink starts for a local mini-cluster, and stopping it once the job is done.

PyFlink launches one JVM per Python process (its py4j gateway, which also hosts the local
mini-cluster) and keeps it until the process exits. ``pulse run`` has nothing left for it after
the Flink step: the load, rollup and books steps read the results in Python and write through
the warehouse. Stopping it there returns the JVM's memory (its heap and ~0.6 GiB beyond it) to
the machine before the warehouse work starts, so the run's peak is the larger of the two, not
their sum (BENCHMARKS.md, "pulse run end to end").
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time

log = logging.getLogger(__name__)


def _gone(pid: int) -> bool:
    """True once ``pid`` has exited (and is reaped, when it is this process's child)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child: probe it instead
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return done == pid


def _wait_gone(pid: int, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for ``pid`` to exit; whether it did."""
    deadline = time.monotonic() + timeout_s
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # exited on its own meanwhile
        os.kill(pid, number)


def stop_local_jvm(timeout_s: float = 10.0) -> int | None:
    """Stop the gateway JVM of this process, if one runs; return its pid (None: none ran).

    The gateway is closed first (py4j connections and callback server), then the JVM gets
    SIGTERM (Flink's shutdown hooks stop the mini-cluster) and, after ``timeout_s``, SIGKILL.
    A later PyFlink call in this process starts a new JVM.
    """
    from pyflink import java_gateway

    gateway = java_gateway._gateway
    if gateway is None:
        return None
    java_gateway._gateway = None
    try:
        pid = int(gateway.jvm.java.lang.ProcessHandle.current().pid())
    except Exception as error:  # the JVM is already gone, or unreachable: nothing to stop
        log.warning("the Flink JVM could not be asked for its pid (%s): left as it is", error)
        return None
    try:
        gateway.shutdown()
    except Exception as error:  # the signal below stops the JVM all the same
        log.warning("closing the connection to the Flink JVM failed: %s", error)
    _signal(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout_s):
        log.warning("the Flink JVM (pid %s) ignored SIGTERM for %.0fs: killed", pid, timeout_s)
        _signal(pid, signal.SIGKILL)
        _wait_gone(pid, float("inf"))
    return pid
