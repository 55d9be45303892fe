"""Faults a user meets at the commands: a wrong `--model`, a missing photo, no project folder,
no model store, a bad detector knob, a tracking server that is down or never answers. Each is
one line and exit status 1, said before any slow work, and leaves nothing behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.faces import copy_photos, make_raw
from helpers.faults import case
from helpers.params import section, write_params

from starrec.artifacts import MODEL_META
from starrec.model_meta import ModelMeta, write_meta

PHOTO = "lfw-subset/George_Robertson/George_Robertson_0001.jpg"


def run(args: list[str], cwd: Path, timeout: float = 120) -> tuple[int, str]:
    """Exit status and everything said, whitespace collapsed (rich wraps long lines)."""
    env = {**os.environ, "COLUMNS": "240"}
    proc = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split())


def starrec(*args: str, cwd: Path) -> tuple[int, str]:
    return run(["-m", "starrec.cli", *map(str, args)], cwd)


def files(where: Path) -> list[str]:
    return sorted(p.relative_to(where).as_posix() for p in where.rglob("*"))


def write_classifier_meta(models: Path) -> None:
    """A real classifier's model_meta.json (a head on SFace vectors), as train writes it."""
    write_meta(models / MODEL_META, ModelMeta(image_size=112, channels=3,
                                              extract=section("extract"), classes=["a", "b"],
                                              model="embedding_head", embedder="sface"))


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A folder with only params.yaml, as a user's fresh project before `dvc repro`."""
    write_params(tmp_path)
    return tmp_path


@case("predict", "a photo path that does not exist (with a model that takes seconds to load)",
      "exit 1, one line naming the path, said before the model is loaded; nothing written")
def test_predict_checks_inputs_before_the_model(project: Path) -> None:
    code, said = starrec("predict", "missing.jpg", "--model", "models:/starrec@champion",
                         cwd=project)
    assert code == 1
    assert "missing.jpg: no such file or folder" in said
    assert "model:" not in said and "Traceback" not in said
    assert files(project) == ["params.yaml"]


@case("predict", "`--model` given a file that is not a model (a text file)",
      "exit 1, one line: not a starrec model, and what to give instead")
def test_predict_non_model_file(project: Path, shared_datasets: Path) -> None:
    (project / "notes.txt").write_text("not a model")
    code, said = starrec("predict", shared_datasets / PHOTO, "--model", "notes.txt", cwd=project)
    assert code == 1
    assert ("notes.txt: not a starrec model; give a .keras file (its meta JSON beside it), a "
            "gallery.json, or a models:/ or runs:/ URI") in said
    assert "Traceback" not in said


@case("predict", "`--model` a garbage .keras file with a real model_meta.json beside it",
      "exit 1, one line: not a Keras model, with Keras' reason")
def test_predict_garbage_keras_file(project: Path, shared_datasets: Path) -> None:
    models = project / "models"
    models.mkdir()
    (models / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    write_classifier_meta(models)
    code, said = starrec("predict", shared_datasets / PHOTO, "--model", models / "model.keras",
                         cwd=project)
    assert code == 1
    assert f"{models / 'model.keras'}: not a Keras model (" in said
    assert "Traceback" not in said


@case("predict", "run outside a project folder (no params.yaml)",
      "exit 1, one line naming the folder it looked in and --params; no mlflow.db created")
def test_predict_outside_a_project(tmp_path: Path, shared_datasets: Path) -> None:
    code, said = starrec("predict", shared_datasets / PHOTO, cwd=tmp_path)
    assert code == 1
    assert f"params.yaml: no params file in {tmp_path} (run in the project folder" in said
    assert "--params PATH" in said
    assert files(tmp_path) == []


@case("predict", "default model (the registry's champion) where no MLflow store exists yet",
      "exit 1, one line naming the store file it looked for and MLFLOW_TRACKING_URI; "
      "no empty mlflow.db created")
def test_predict_without_a_store_says_where_it_looked(project: Path,
                                                     shared_datasets: Path) -> None:
    code, said = starrec("predict", shared_datasets / PHOTO, cwd=project)
    assert code == 1
    assert f"no MLflow store at {project / 'mlflow.db'}" in said
    assert "set MLFLOW_TRACKING_URI to your store or server" in said
    assert "Traceback" not in said
    assert files(project) == ["params.yaml"]


@case("predict", "zero-byte photo", "row `error` with reason `empty file (0 bytes)` naming the "
      "file (not a buffer's address); the other photos still predicted")
def test_predict_zero_byte_photo_reason(tmp_path: Path) -> None:
    from starrec.config import load_config
    from starrec.predict.predict import collect_inputs, predict_paths

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "zero.jpg").write_bytes(b"")
    write_params(tmp_path)
    seen: list[object] = []
    results = predict_paths(seen.append, collect_inputs([tmp_path / "in"]), tmp_path / "out",
                            load_config(tmp_path / "params.yaml").predict)
    assert [(r.status, r.reason) for r in results] == [
        ("error", f"{tmp_path / 'in' / 'zero.jpg'}: empty file (0 bytes)")]
    assert seen == []  # nothing to recognise
    assert (tmp_path / "out" / "predictions.csv").is_file()


@case("enroll", "no model yet (enroll before `dvc repro`)",
      "exit 1, one line naming the model path and `dvc repro`")
def test_enroll_without_a_model(project: Path, shared_datasets: Path) -> None:
    code, said = starrec("enroll", "Bob", shared_datasets / PHOTO, "--model",
                         "models/backbone.keras", cwd=project)
    assert code == 1
    assert "models/backbone.keras: no such model; run dvc repro first" in said
    assert "Traceback" not in said
    assert files(project) == ["params.yaml"]


@case("enroll", "`--model` a garbage .keras file", "exit 1, one line: not a Keras model")
def test_enroll_with_a_garbage_model(project: Path, shared_datasets: Path) -> None:
    models = project / "models"
    models.mkdir()
    (models / "model.keras").write_bytes(b"garbage")
    write_classifier_meta(models)
    code, said = starrec("enroll", "Bob", shared_datasets / PHOTO, cwd=project)
    assert code == 1
    assert "models/model.keras: not a Keras model (" in said
    assert "Traceback" not in said
    assert sorted(p.name for p in models.iterdir()) == ["model.keras", "model_meta.json"]


@case("extract_faces", "`extract.haar.cascade` names no cascade file (2 workers)",
      "exit 1, one line naming extract.detector and the file, before any worker starts; "
      "no BrokenProcessPool, nothing written")
def test_bad_cascade_name_is_one_line(tmp_path: Path, repo_root: Path,
                                      shared_datasets: Path) -> None:
    make_raw(tmp_path / "data" / "raw", copy_photos([shared_datasets / PHOTO]))
    write_params(tmp_path, extract={"detector": "haar", "n_jobs": 2,
                                    "haar": {"cascade": "no_such_cascade.xml"}})
    before = files(tmp_path)
    code, said = run([str(repo_root / "pipelines" / "extract_faces.py")], tmp_path)
    assert code == 1
    assert "extract.detector haar: cannot be built (" in said
    assert "no_such_cascade.xml: not a loadable Haar cascade" in said
    assert "Traceback" not in said and "BrokenProcessPool" not in said
    assert files(tmp_path) == before


@pytest.fixture()
def silent_server() -> Iterator[str]:
    """A TCP port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@case("train", "MLflow tracking server down (nothing listens on its port)",
      "exit 1 in seconds, one line naming the server and the reason, before any training; "
      "nothing written")
def test_train_with_tracking_server_down(project: Path, repo_root: Path) -> None:
    uri = closed_port()
    write_params(project, mlflow={"tracking_uri": uri, "connect_timeout_s": 2})
    code, said = run([str(repo_root / "pipelines" / "train.py")], project)
    assert code == 1
    assert f"MLflow tracking server {uri} unreachable: " in said
    assert "Traceback" not in said
    assert files(project) == ["params.yaml"]


@case("train", "MLflow tracking server that accepts connections and never answers",
      "exit 1 after mlflow.connect_timeout_s, one line (read timed out); nothing written")
def test_train_with_tracking_server_that_never_answers(project: Path, repo_root: Path,
                                                        silent_server: str) -> None:
    write_params(project, mlflow={"tracking_uri": silent_server, "connect_timeout_s": 2})
    code, said = run([str(repo_root / "pipelines" / "train.py")], project, timeout=60)
    assert code == 1
    assert f"MLflow tracking server {silent_server} unreachable: " in said
    assert "timed out" in said.lower()
    assert "Traceback" not in said
    assert files(project) == ["params.yaml"]
