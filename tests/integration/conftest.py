"""Fixtures for the shared-infrastructure tests: a real PostgreSQL + MLflow tracking server
started by the user's command (`python -m starrec.tracking_server`, what `make tracking-server`
runs), and one tiny real pipeline run against it (`dvc repro` in a throwaway repo).

Both are session-scoped: the pipeline run (~1.5 min on 2 cores) is shared by the tracking and
the DVC-remote tests. Nothing is written into the checkout; every process started here is
stopped in teardown, and teardown fails the test run if one outlives it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from helpers import dvc_repo

from starrec.tracking_server import free_port, port_open

SERVER_START_TIMEOUT_S = 240
EXPERIMENT = "starrec-it"

# A tiny, real run of the whole pipeline (… train → evaluate → calibrate → report): 3 stars of the LFW
# subset (20 photos each), 5 other people of lfw-original-10x10 as unknown
# people (2 photos each), the default embedding head. Only params.yaml keys: no stage code
# is imported.

# aligned photos, so 10 epochs of a small model clearly beat the one-component eigenfaces
# baseline and the gate promotes it
STARS = ["Angelina_Jolie", "Igor_Ivanov", "Michael_Bloomberg"]
PUBLIC = ["Ariel_Sharon", "Arnold_Schwarzenegger", "Donald_Rumsfeld", "Gerhard_Schroeder", "Hugo_Chavez"]
REGISTERED_MODEL = "starrec-it"


def tiny_params(shared_datasets: Path, experiment: str) -> dict:
    folder = str(shared_datasets / "lfw-original-10x10")
    return {
        "extract": {"n_jobs": 1, "preview_per_class": 2},
        "validate": {"min_images_per_class": 5},
        "augment": {"copies": 1},
        "datasets": {
            "stars": {"download": {"source": "folder", "classes": STARS,
                                   "min_images_per_class": 0,
                                   "folder": {"path": str(shared_datasets / "lfw-subset")}}},
            "public": {"download": {"source": "folder", "classes": PUBLIC,
                                    "min_images_per_class": 0, "folder": {"path": folder}}}},
        "pretrain": {"embedding_dim": 16, "widths": [8, 16], "epochs": 1, "batch_size": 16,
                     "pairs": 20, "gallery": {"max_impostors": 20},
                     "registered_model": f"{REGISTERED_MODEL}-backbone"},
        "train": {"embedding_head": {"epochs": 10}},
        "mlflow": {"experiment": experiment, "registered_model": REGISTERED_MODEL,
                   "connect_timeout_s": 10.0},
        # a weak baseline (one PCA component) that the small model beats, so the gate promotes
        # it and the run exercises the `champion` alias too
        "evaluate": {"baseline_components": 1, "baseline_C": [1.0], "baseline_gamma": ["scale"],
                     "misclassified_max": 4, "few_shot": 2, "gate": {"margin": 0.0}},
        "predict": {"registered_model": f"{REGISTERED_MODEL}-pyfunc",
                    "unknown": {"path": folder, "max_per_person": 2}},
    }


def server_root() -> Path:
    """A temp dir PostgreSQL's unprivileged user (we may be root) can traverse: pytest's
    tmp_path lives under a 0700 dir, so this one is made beside it, 0711."""
    root = Path(tempfile.mkdtemp(prefix="starrec-tracking-"))
    root.chmod(0o711)
    return root


def leftovers(marker: str) -> list[psutil.Process]:
    """Processes whose command line mentions `marker` (our temp dir)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.pid != os.getpid() and any(marker in part for part in cmdline):
            found.append(proc)
    return found


@dataclass
class Server:
    url: str
    root: Path
    pg_port: int
    process: subprocess.Popen
    log: Path

    def pg_dsn(self, database: str = "mlflow") -> str:
        password = (self.root / "pg-password").read_text().strip()
        return f"postgresql://postgres:{password}@127.0.0.1:{self.pg_port}/{database}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.is_file() else ""


def start_server(root: Path, *extra: str) -> Server:
    port, pg_port = free_port(), free_port()
    log = root.parent / f"{root.name}.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "starrec.tracking_server", "--dir", str(root / "t"),
             "--port", str(port), "--pg-port", str(pg_port), "--workers", "1", *extra],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Server(f"http://127.0.0.1:{port}", root / "t", pg_port, process, log)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"tracking server exited {process.returncode}:\n{server.output()}")
        if "ready: export MLFLOW_TRACKING_URI" in server.output():
            return server
        time.sleep(0.5)
    stop_server(server)
    raise AssertionError(f"tracking server not ready in {SERVER_START_TIMEOUT_S} s:\n{server.output()}")


def stop_server(server: Server) -> None:
    """SIGTERM, as a user's Ctrl-C / service stop would; then check nothing is left."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(90)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(10)
    stray = leftovers(str(server.root))
    for proc in stray:
        proc.kill()
    open_ports = [p for p in (int(server.url.rsplit(":", 1)[1]), server.pg_port)
                  if port_open("127.0.0.1", p)]
    assert not stray and not open_ports, (
        f"left running after the server command stopped: {[p.pid for p in stray]}, "
        f"ports still open: {open_ports}\n{server.output()}")
    assert server.process.returncode == 0, f"exit {server.process.returncode}:\n{server.output()}"
    assert "killing it" not in server.output(), f"not a clean shutdown:\n{server.output()}"


@pytest.fixture(scope="session")
def tracking_server() -> Iterator[Server]:
    root = server_root()
    try:
        server = start_server(root)
        try:
            yield server
        finally:
            stop_server(server)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        (root.parent / f"{root.name}.out").unlink(missing_ok=True)


@dataclass
class PipelineRun:
    repo: Path
    server: Server
    stages: list[str]
    seconds: float
    experiment: str = EXPERIMENT
    registered_model: str = REGISTERED_MODEL


@pytest.fixture()
def pg_root() -> Iterator[Path]:
    """A fresh server dir (see server_root), removed afterwards."""
    root = server_root()
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


# Stages that do not talk to MLflow: they run while the server starts.
DATA_TARGETS = ["augment"]


@pytest.fixture(scope="session")
def pipeline_run(request: pytest.FixtureRequest, shared_datasets: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """`dvc repro` of the tiny pipeline with MLFLOW_TRACKING_URI = the server (the
    data stages run first, while the server is starting)."""
    params = tiny_params(shared_datasets, EXPERIMENT)
    params["mlflow"]["tracking_uri"] = "sqlite:///must-not-be-used.db"  # the env var must win
    repo = dvc_repo.make_repo(tmp_path_factory.mktemp("pipeline") / "repo", params)
    start = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        data = pool.submit(dvc_repo.run, ["dvc", "repro", *DATA_TARGETS], repo)
        server: Server = request.getfixturevalue("tracking_server")
        stages = dvc_repo.stages_run(data.result().stdout)
    done = dvc_repo.run(["dvc", "repro", "dvc.yaml"], repo, MLFLOW_TRACKING_URI=server.url)
    stages += dvc_repo.stages_run(done.stdout)
    return PipelineRun(repo, server, stages, time.monotonic() - start)
