"""kill -9 of a data stage mid-write, and of one extract_faces worker: no process outlives
the stage, the next run sweeps what the killed one left and writes complete, consistent
outputs (manifest rows match the files)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import psutil
import pytest
from helpers.faces import make_raw
from helpers.faults import case
from helpers.http_routes import jpeg, send, trickle
from helpers.params import section, write_params
from helpers.stages import download, download_params, extract_faces
from PIL import Image

from starrec.artifacts import STARS
from starrec.io import INCOMPLETE

N_PHOTOS = 160


def wait_for(what: Callable[[], object], timeout: float = 60.0) -> object:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if got := what():
            return got
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stage(name: str, cwd: Path, repo_root: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(repo_root / "pipelines" / f"{name}.py")], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def pool_workers(pid: int) -> list[psutil.Process]:
    """The stage's pool workers: spawned children, not multiprocessing's resource tracker."""
    found = []
    for child in psutil.Process(pid).children():
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            pass
    return found


def temps(where: Path) -> list[str]:
    return sorted(p.name for p in where.rglob("*") if ".tmp-" in p.name or ".fetch." in p.name)


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """160 photos of 10 people, upscaled to 1200 px so a run lasts a few seconds."""
    items = []
    for person in sorted(p for p in (shared_datasets / "lfw-original-10x10").iterdir() if p.is_dir())[:10]:
        img = Image.open(sorted(person.glob("*.jpg"))[0]).convert("RGB").resize((1200, 1200))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=85)
        items += [(person.name, f"p{i:02d}.jpg", buf.getvalue()) for i in range(N_PHOTOS // 10)]
    return make_raw(tmp_path_factory.mktemp("kill") / "raw", items)


def consistent_faces(out: Path) -> pd.DataFrame:
    m = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert m["source_path"].nunique() == N_PHOTOS
    ok = m[m["status"] == "ok"]
    assert sorted(ok["path"]) == sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")
                                        if p.name != "preview.png")
    assert all(hashlib.sha256((out / p).read_bytes()).hexdigest() == s
               for p, s in zip(ok["path"], ok["sha256"], strict=True))
    return m


@case("extract_faces", "kill -9 of the stage mid-write (2 workers)",
      "workers die with it (PR_SET_PDEATHSIG); the build is inside `faces/` beside an "
      "`.incomplete` marker; the next run replaces it all and writes every photo's rows, "
      "matching the files")
def test_kill_extract_then_rerun(raw: Path, tmp_path: Path, repo_root: Path) -> None:
    write_params(tmp_path, datasets={STARS: {"paths": {"raw": str(raw), "faces": "faces"}}},
                 extract={"n_jobs": 2})
    proc = stage("extract_faces", tmp_path, repo_root)
    try:
        workers = wait_for(lambda: len(w := pool_workers(proc.pid)) == 2 and w)
        wait_for(lambda: list(tmp_path.glob("faces/.faces.tmp-*/*/*.png")))  # mid-write
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    wait_for(lambda: not any(running(w.pid) for w in workers), timeout=10)
    # the build inside its placeholder: `dvc repro` (or the next run) clears it with the output
    assert sorted(p.name for p in (tmp_path / "faces").iterdir()) == [
        f".faces.tmp-{proc.pid}-0", INCOMPLETE]

    out = extract_faces(section("extract", n_jobs=2), raw, tmp_path / "faces")
    assert temps(tmp_path) == []
    assert (consistent_faces(out)["status"] == "ok").sum() >= N_PHOTOS * 0.9


@case("extract_faces", "kill -9 of one worker process",
      "exit status 1 with one line (a worker died, after k of n photos), no BrokenProcessPool "
      "traceback, no temp dir; the previous output untouched")
def test_dead_worker_is_one_line(raw: Path, tmp_path: Path, repo_root: Path) -> None:
    before = tmp_path / "faces"  # a previous run's output
    before.mkdir()
    (before / "manifest.csv").write_text("previous output\n")
    write_params(tmp_path, datasets={STARS: {"paths": {"raw": str(raw), "faces": "faces"}}},
                 extract={"n_jobs": 2})
    proc = stage("extract_faces", tmp_path, repo_root)
    try:
        workers = wait_for(lambda: len(w := pool_workers(proc.pid)) == 2 and w)
        wait_for(lambda: list(tmp_path.glob(".faces.tmp-*/*/*.png")))
        os.kill(workers[0].pid, signal.SIGKILL)
        said, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1
    assert "Traceback" not in said and "BrokenProcessPool" not in said
    flat = " ".join(said.split())  # rich wraps long lines
    assert flat.count("ERROR") == 1 and re.search(
        r"ERROR extract_faces: a worker process died abruptly \(killed, or out of memory\) after "
        rf"\d+ of {N_PHOTOS} photos; nothing was written$", flat), said
    wait_for(lambda: not any(running(w.pid) for w in workers), timeout=10)
    assert temps(tmp_path) == [] and [p.name for p in before.iterdir()] == ["manifest.csv"]
    assert (before / "manifest.csv").read_text() == "previous output\n"


def archive() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for i in range(40):
            data = jpeg(i, size=48)
            info = tarfile.TarInfo(f"photos/{'ab'[i % 2]}/{i:02d}.jpg")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@case("download", "kill -9 of the stage while it streams an archive",
      "the next run removes the `.download.tmp-<pid>-<n>` work dir and writes a raw dir whose "
      "manifest rows match its files")
def test_kill_download_then_rerun(server, tmp_path: Path, repo_root: Path) -> None:
    body = archive()
    server.routes["/photos.tgz"] = trickle(body, 512, 0.1)
    url = server.url("/photos.tgz")
    write_params(tmp_path, datasets={STARS: {"paths": {"raw": "raw"}, "download": {
        "folder": {"path": url}, "min_images_per_class": 0}}}, download={"cache_dir": "cache"})
    proc = stage("download", tmp_path, repo_root)
    try:
        wait_for(lambda: [p for p in (tmp_path / "cache").glob(".download.tmp-*/.fetch.*")
                          if p.stat().st_size > 0])
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert temps(tmp_path)[0] == f".download.tmp-{proc.pid}-0"

    server.routes["/photos.tgz"] = send(body, ctype="application/gzip")
    out = download(download_params(source="folder", folder={"path": url}, min_images_per_class=0,
                                   cache_dir=str(tmp_path / "cache")), tmp_path / "raw")
    assert temps(tmp_path) == []
    m = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    assert len(m) == 40 and (m["status"] == "ok").all()
    assert sorted(m["path"]) == sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
    assert all(hashlib.sha256((out / p).read_bytes()).hexdigest() == s
               for p, s in zip(m["path"], m["sha256"], strict=True))
