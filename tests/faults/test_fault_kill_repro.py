"""kill -9 of `dvc repro` while each data stage after extract_faces writes its output, then a
plain `dvc repro`: the killed stage runs again, its stale temp dir is swept, and every output
is the one an uninterrupted run wrote (the same hashes in dvc.lock), with nothing stray."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from helpers.dvc_repo import make_repo, repo_env, run
from helpers.faults import Case, cases

from starrec.artifacts import PUBLIC, STARS

PEOPLE = {"Angelina_Jolie": 20, "Igor_Ivanov": 20, "Michael_Bloomberg": 20}
LAST = "augment"


def outs(repo: Path) -> dict[str, dict[str, str]]:
    """stage -> {out path: md5} from dvc.lock."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {name: {o["path"]: o["md5"] for o in stage.get("outs", [])}
            for name, stage in lock.items()}


def building(repo: Path) -> list[str]:
    """A stage's build dir inside its output (data/<out>/.<out>.tmp-...): a cheap glob, so
    the short write of a small data set is seen."""
    try:
        return sorted(p.relative_to(repo).as_posix() for p in repo.glob("data/*/.*.tmp-*"))
    except FileNotFoundError:  # DVC removed an output while we looked
        return []


def strays(repo: Path) -> list[str]:
    return sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*.tmp-*"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> tuple[Path, dict]:
    """A tiny real project run once through augment; the uninterrupted outputs' hashes."""
    root = tmp_path_factory.mktemp("kill_repro")
    photos = root / "photos"
    for person, n in PEOPLE.items():
        (photos / person).mkdir(parents=True)
        for f in sorted((shared_datasets / "lfw-subset" / person).glob("*.jpg"))[:n]:
            shutil.copy(f, photos / person / f.name)
    folder = {"source": "folder", "min_images_per_class": 0, "folder": {"path": str(photos)}}
    path = make_repo(root / "repo", {
        "datasets": {STARS: {"download": folder}, PUBLIC: {"download": folder}},
        "extract": {"n_jobs": 1}, "validate": {"min_images_per_class": 5},
        "augment": {"copies": 2}})
    run(["dvc", "repro", LAST], path)
    return path, outs(path)


KILLED = {
    stage: (stage, Case(stage, "kill -9 of `dvc repro` (its process group) while the stage "
                               "writes", "the killed build sits inside its output beside an "
                               "`.incomplete` marker; the next `dvc repro` restores (or reruns) "
                               "the output, clearing both; outputs identical to an "
                               "uninterrupted run (dvc.lock hashes); nothing stray"))
    for stage in ("embed", "validate", "split", "write_tfrecords", "augment")}


def kill_mid_write(path: Path, name: str) -> list[str]:
    """`dvc repro -f -s name` in its own process group, killed with SIGKILL as soon as the
    stage's build dir appears; the build dirs seen (empty if the stage finished first)."""
    proc = subprocess.Popen(["dvc", "repro", "-f", "-s", name], cwd=path, env=repo_env(path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not building(path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.001)
        caught = building(path)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:  # it finished before the kill: nothing was interrupted
            caught = []
        proc.wait(10)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return caught


@cases("stage", KILLED)
def test_kill_dvc_repro_mid_write_then_repro(repo: tuple[Path, dict], stage: str) -> None:
    path, clean = repo
    name = stage if stage == LAST else f"{stage}@{STARS}"
    for _ in range(3):  # a small stage's write lasts milliseconds: try again if it was missed
        if caught := kill_mid_write(path, name):
            break
    assert caught, f"{name} finished before its build dir appeared, three times"
    # the build is inside the output it builds (data/splits/.splits.tmp-<pid>-<n>)
    assert all(Path(p).parent.name == Path(p).name.split(".")[1] for p in caught), caught
    killed = run(["dvc", "status", name], path).stdout
    assert "modified" in killed or "deleted" in killed, killed
    run(["dvc", "repro", LAST], path)
    assert strays(path) == []
    assert outs(path) == clean
    assert run(["dvc", "status", LAST], path).stdout.strip() in (
        "Data and pipelines are up to date.", "")
    untracked = run(["git", "status", "--porcelain", "--untracked-files=all"], path).stdout
    assert ".tmp-" not in untracked
