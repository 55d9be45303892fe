"""Local server processes as a user starts them (PostgreSQL, `mlflow server`,
`mlflow models serve`): a free port, waiting until one answers, stopping its whole group."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class ServerError(RuntimeError):
    """The server cannot start or stop; the message is one line saying why."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_started(process: subprocess.Popen, ready: Callable[[], bool], timeout_s: float,
                 every_s: float) -> bool:
    """Whether `ready()` came true before `process` exited or `timeout_s` passed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if ready():
            return True
        time.sleep(every_s)
    return False


def stop_group(process: subprocess.Popen, timeout_s: float, name: str) -> bool:
    """SIGTERM to `process`'s whole group (a server's workers), then SIGKILL for what is
    left, also when the leader already died, so no worker is orphaned. Whether it was
    running."""
    running = process.poll() is None
    if running:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0f s; killing it", name, timeout_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(10)
    return running


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
