"""starrec.tracking against real sockets, a real HTTP server and a real sqlite store."""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading
import time
from pathlib import Path

import mlflow
import pytest
from helpers.params import config, section

from starrec.errors import StageError
from starrec.tracking import (
    connect,
    dataset_name,
    dvc_lock_hashes,
    flatten_params,
    read_run_json,
    run_name,
    run_tags,
    write_run_json,
)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server():
    """A real HTTP server on 127.0.0.1 whose /health answers with `status[0]`."""
    status = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(status[0] if self.path == "/health" else 404)
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", status
    server.shutdown()
    server.server_close()


def test_unreachable_server_fails_fast_with_clear_error() -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    start = time.monotonic()
    with pytest.raises(StageError, match=rf"MLflow tracking server {uri} unreachable: "):
        connect(section("mlflow", tracking_uri=uri, connect_timeout_s=2.0))
    assert time.monotonic() - start < 10


def test_env_uri_overrides_params(monkeypatch) -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(StageError, match=uri):
        connect(section("mlflow", tracking_uri="sqlite:///never-used.db"))


def test_server_error_counts_as_unreachable(http_server) -> None:
    uri, status = http_server
    status[0] = 503
    with pytest.raises(StageError, match="HTTP 503"):
        connect(section("mlflow", tracking_uri=uri, connect_timeout_s=2.0))


def test_unreachable_falls_back_to_local_sqlite(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    uri = connect(section("mlflow", tracking_uri=f"http://127.0.0.1:{closed_port()}",
                               log_locally_if_unreachable=True, experiment="fallback",
                               connect_timeout_s=1.0))
    assert uri == "sqlite:///mlflow.db"
    assert mlflow.get_tracking_uri() == uri
    with mlflow.start_run() as run:
        mlflow.log_param("p", 1)
    assert (tmp_path / "mlflow.db").is_file()
    assert mlflow.get_run(run.info.run_id).data.params == {"p": "1"}
    assert mlflow.get_experiment(run.info.experiment_id).name == "fallback"


def test_sqlite_store_sets_experiment(tmp_path) -> None:
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    assert connect(section("mlflow", tracking_uri=uri, experiment="exp1")) == uri
    assert mlflow.get_experiment_by_name("exp1") is not None


def test_run_json_round_trip_and_errors(tmp_path) -> None:
    run = {"run_id": "abc", "experiment_id": "1", "tracking_uri": "sqlite:///x.db",
           "registered_model": "starrec", "model_version": 3}
    write_run_json(tmp_path / "run.json", **run, extra="ignored")
    assert read_run_json(tmp_path / "run.json") == run
    with pytest.raises(ValueError, match="model_version"):
        write_run_json(tmp_path / "run.json", run_id="x")
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(StageError, match="run.json: cannot read"):
        read_run_json(tmp_path / "run.json")


def test_flatten_params() -> None:
    flat = flatten_params({"train": {"optimizer": {"name": "adam", "lr": 0.001}, "widths": [1, 2]},
                           "paths": {"models": Path("models")}})
    assert flat == {"train.optimizer.name": "adam", "train.optimizer.lr": "0.001",
                    "train.widths": "[1, 2]", "paths.models": "models"}


def test_dataset_name() -> None:
    assert dataset_name(config().download) == \
        "lfw-subset (folder, >= 70 per class)"


def test_run_tags_git_and_dvc_lock(tmp_path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n  write_tfrecords@stars:\n    cmd: x\n    outs:\n"
        "    - path: data/tfrecords\n      md5: abc.dir\n      size: 10\n"
        "  write_tfrecords@public:\n    outs:\n    - path: data/public/tfrecords\n      md5: p\n"
        "  train:\n    outs:\n    - path: models/model.keras\n      md5: fff\n")
    (tmp_path / "params.yaml").write_text("train: {}\n")
    subprocess.run([*git, "add", "dvc.lock", "params.yaml"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=tmp_path, check=True)
    tags = run_tags(tmp_path, "lfw-7", {"train": 700, "val": 250})
    assert len(tags["git.commit"]) == 40 and tags["git.dirty"] == "False"
    assert tags["dvc.write_tfrecords.data/tfrecords"] == "abc.dir"
    assert "dvc.train.models/model.keras" not in tags  # only the data stages
    assert "dvc.write_tfrecords.data/public/tfrecords" not in tags  # of the star data set
    assert tags["dataset.size"] == "950" and tags["dataset.size.val"] == "250"
    assert run_name("train", "star_cnn", tmp_path) == f"train star_cnn @ {tags['git.commit'][:7]}"
    (tmp_path / "dvc.lock").write_text("stages: {}\n")  # DVC's record of a repro under way
    assert run_tags(tmp_path, "x", {})["git.dirty"] == "False"
    (tmp_path / "params.yaml").write_text("train: {epochs: 1}\n")
    assert run_tags(tmp_path, "x", {})["git.dirty"] == "True"
    assert dvc_lock_hashes(tmp_path / "missing.lock") == {}
