"""Local processes: free ports, and what ``/proc`` says about a pid (its command line, whether
it is a zombie), so that a recycled pid is never signalled; waiting for a pid to exit."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """A currently free TCP port on ``host`` (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """``count`` distinct currently free TCP ports on ``host``: all bound at once, so the OS
    cannot hand out one of them twice (as successive :func:`free_port` calls may)."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            s = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            s.bind((host, 0))
            ports.append(int(s.getsockname()[1]))
        return ports


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` of a log file (for error messages)."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def proc_cmdline(pid: int) -> list[str] | None:
    """The command line of ``pid``, or None when no such process is readable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_zombie(pid: int) -> bool:
    """True for a zombie (exited, not reaped) or a pid that is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def wait_exit(pid: int, child: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``pid`` to exit; whether it did. ``child``: the Popen of
    ``pid`` when this process started it (polled, so it is reaped), else None (``/proc``)."""
    deadline = time.monotonic() + timeout
    while True:
        if child is not None and child.pid == pid:
            if child.poll() is not None:
                return True
        elif proc_cmdline(pid) is None or is_zombie(pid):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def reap(child: subprocess.Popen[bytes] | None) -> None:
    """Collect the exit status of a child this process started (no zombie left)."""
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)
