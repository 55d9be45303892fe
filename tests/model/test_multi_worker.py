"""The train stage on two CPU workers (MultiWorkerMirroredStrategy, TF_CONFIG on 127.0.0.1):
both train in step, the chief alone saves the model and logs one MLflow run and one model
version; the other worker's save goes to a temp dir that is dropped."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from helpers.embeddings import make_embeddings
from helpers.params import stage_config, write_params
from helpers.paths import REPO_ROOT
from helpers.tracking import store
from mlflow.tracking import MlflowClient

PEOPLE = ["Colin_Powell", "George_W_Bush", "Tony_Blair"]


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_workers_train_and_only_the_chief_saves_and_logs(tmp_path: Path,
                                                             shared_datasets: Path) -> None:
    data = tmp_path / "shared"
    make_embeddings(stage_config(data), shared_datasets / "lfw-subset", PEOPLE, 10)
    tracking = store(tmp_path / "mlflow", "multi", registered_model="stars")
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    procs = []
    for index in range(2):
        cwd = tmp_path / f"worker{index}"
        cwd.mkdir()
        write_params(cwd, **{
            "datasets": {"stars": {"paths": {"splits": str(data / "data/splits"),
                                             "embeddings": str(data / "data/embeddings")}}},
            "paths": {"models": str(cwd / "models")},
            "train": {"model": "embedding_head", "strategy": "multi_worker",
                      "embedding_head": {"epochs": 3}},
            "mlflow": tracking.model_dump(mode="json")})
        env = {**os.environ, "TF_CONFIG": json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}),
            "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / d) for d in ("src", "tests", "."))}
        procs.append(subprocess.Popen(
            [sys.executable, str(REPO_ROOT / "pipelines/train.py")], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=150)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o[-3000:] for o in outs)
    assert all("strategy multi_worker: 2 replica(s)" in o for o in outs)

    chief, other = tmp_path / "worker0/models", tmp_path / "worker1/models"
    assert (chief / "model.keras").is_file() and (chief / "run.json").is_file()
    assert list(other.iterdir()) == []  # the temp save was dropped
    client = MlflowClient(tracking.tracking_uri)
    experiment = client.get_experiment_by_name("multi").experiment_id
    runs = client.search_runs([experiment])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert runs[0].info.run_id == json.loads((chief / "run.json").read_text())["run_id"]
    assert len(client.search_model_versions("name='stars'")) == 1
