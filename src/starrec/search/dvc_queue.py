"""The trials as DVC experiments: queued (`dvc exp run --queue`), started
(`dvc queue start -j N`) and waited for (`dvc queue status`)."""

from __future__ import annotations

import logging
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from starrec.search.space import Trial, set_args

log = logging.getLogger(__name__)
PENDING = ("Queued", "Running")


class QueueError(RuntimeError):
    """A dvc command of the search failed."""


def dvc(repo: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    proc = subprocess.run(["dvc", *args], cwd=repo, env=env, text=True, capture_output=True)
    if proc.returncode != 0:
        raise QueueError(f"dvc {' '.join(args)} failed ({proc.returncode}): "
                         f"{(proc.stderr or proc.stdout).strip()}")
    return proc.stdout


def start_workers(repo: Path, jobs: int, env: Mapping[str, str]) -> None:
    """`dvc queue start`: its workers are daemons that inherit the command's output, so it is
    written to a file, not a pipe (a pipe stays open as long as the last worker lives: a
    worker slow to exit would hold the search until it does)."""
    with tempfile.TemporaryFile("w+") as out:
        code = subprocess.run(["dvc", "queue", "start", "--jobs", str(jobs)], cwd=repo,
                              env=env, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT).returncode
        if code != 0:
            out.seek(0)
            raise QueueError(f"dvc queue start failed ({code}): {out.read().strip()}")


def queue_trials(repo: Path, target: str, trials: list[Trial], prefix: str) -> list[str]:
    """Queue one experiment of `target` per trial, named PREFIX-1, PREFIX-2, ..."""
    names = [f"{prefix}-{i}" for i in range(1, len(trials) + 1)]
    for name, trial in zip(names, trials):
        dvc(repo, "exp", "run", "--queue", target, "--name", name, *set_args(trial))
        log.info("queued %s: %s", name, ", ".join(f"{k}={v}" for k, v in trial.items()))
    return names


def queue_states(status_text: str, names: list[str]) -> dict[str, str]:
    """Name -> state (Queued, Running, Success, Failed) from `dvc queue status` output."""
    states = {}
    for line in status_text.splitlines():
        cols = line.split()
        if len(cols) >= 3 and cols[1] in names:
            states[cols[1]] = cols[-1]
    return states


def run_queue(repo: Path, names: list[str], jobs: int, env: Mapping[str, str],
              poll_s: float = 2.0) -> dict[str, str]:
    """Start `jobs` queue workers (with `env`: the trials' MLflow store and parent run) and
    wait until none of `names` is queued or running; returns each one's final state."""
    start_workers(repo, jobs, env)
    seen: dict[str, str] = {}
    while True:
        states = queue_states(dvc(repo, "queue", "status"), names)
        for name, state in states.items():
            if seen.get(name) != state and state not in PENDING:
                log.info("%s: %s", name, state)
        seen = states
        if all(states.get(n) not in PENDING for n in names):
            return {n: states.get(n, "missing") for n in names}
        time.sleep(poll_s)
