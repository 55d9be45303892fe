"""Stage `train` with `model: embedding_head` on SFace embeddings of real LFW photos: the same
outputs, MLflow run and registry as the image models, the embedder and the face models'
licences recorded; a face without an embedding stops the stage with one line naming it."""

from __future__ import annotations

import hashlib
import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers.embeddings import make_embeddings
from helpers.params import stage_config
from helpers.stages import run_main
from helpers.tracking import store
from mlflow.tracking import MlflowClient

from starrec.artifacts import SPLIT_CSV
from starrec.errors import StageError
from starrec.faces.model_files import ARTIFACTS

PEOPLE = ["Colin_Powell", "George_W_Bush", "Tony_Blair"]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory, shared_datasets):
    root = tmp_path_factory.mktemp("emb")
    cfg = stage_config(root)
    make_embeddings(cfg, shared_datasets / "lfw-subset", PEOPLE, 15)
    return root


def config(root, tmp_path):
    tracking = store(tmp_path / "mlflow", "t", registered_model="stars")
    cfg = stage_config(tmp_path, datasets={"stars": {"paths": {
        "splits": str(root / "data/splits"), "embeddings": str(root / "data/embeddings")}}})
    train = cfg.train.model_copy(update={"model": "embedding_head"})
    return cfg.model_copy(update={"mlflow": tracking, "train": train})


def test_train_embedding_head_stage(embedded, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # run_tags reads git and dvc.lock from the working dir
    cfg = config(embedded, tmp_path)
    run_main("train", cfg)

    models = cfg.paths.models
    info = json.loads((models / "run.json").read_text())
    meta = json.loads((models / "model_meta.json").read_text())
    assert meta["classes"] == PEOPLE and meta["model"] == "embedding_head"
    assert meta["embedder"] == "sface" and meta["embedder_input"]["size"] == 112
    assert meta["embedder_sha256"] == ARTIFACTS["sface"].sha256
    assert meta["licences"][ARTIFACTS["sface"].filename] == ARTIFACTS["sface"].licence
    history = pd.read_csv(models / "history.csv")
    assert len(history) == cfg.train.embedding_head.epochs and history["epoch"].iloc[0] == 1
    assert history["val_accuracy"].iloc[-1] == 1.0  # SFace tells three LFW people apart
    assert (models / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"

    client = MlflowClient(cfg.mlflow.tracking_uri)
    run = client.get_run(info["run_id"])
    assert run.info.status == "FINISHED" and run.data.params["train.model"] == "embedding_head"
    assert run.data.params["faces.embedder"] == "sface"
    assert run.data.tags[f"licence.{ARTIFACTS['sface'].filename}"] == ARTIFACTS["sface"].licence
    assert run.data.tags["embedder"] == "sface" and run.data.tags["dataset.size.train"] == "27"
    assert len(client.get_metric_history(info["run_id"], "val_accuracy")) == len(history)
    # the splits as dataset inputs: the runs table's Dataset column (no dvc.lock here: the
    # digest is split.csv's md5, what DVC would record for the file)
    split_csv = embedded / "data/splits" / SPLIT_CSV
    table = pd.read_csv(split_csv)
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert set(inputs) == {f"lfw-subset (folder, >= 70 per class) {s}"
                           for s in ("train", "val", "test")}
    for split, context in (("train", "training"), ("val", "validation"), ("test", "test")):
        logged = inputs[f"lfw-subset (folder, >= 70 per class) {split}"]
        assert logged.dataset.digest == hashlib.md5(split_csv.read_bytes()).hexdigest()
        assert {t.key: t.value for t in logged.tags}["mlflow.data.context"] == context
        assert json.loads(logged.dataset.profile)["num_rows"] == (table["split"] == split).sum()
    version = client.get_model_version_by_alias("stars", "candidate")
    assert version.run_id == info["run_id"]
    loaded = mlflow.pyfunc.load_model(f"models:/stars@candidate")
    with np.load(embedded / "data/embeddings/sface.npz") as data:
        probs = np.asarray(loaded.predict(data["x"][:3]))
    assert probs.shape == (3, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)


def test_face_without_embedding_is_one_line_error(embedded, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = config(embedded, tmp_path)
    splits = tmp_path / "splits"
    splits.mkdir()
    table = pd.read_csv(embedded / "data/splits" / SPLIT_CSV)
    table.loc[len(table)] = {**table.iloc[0].to_dict(), "face_id": "Tony_Blair/nowhere"}
    table.to_csv(splits / SPLIT_CSV, index=False)
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"splits": splits})})
    with pytest.raises(StageError, match="'Tony_Blair/nowhere'") as err:
        run_main("train", cfg)
    assert "\n" not in str(err.value) and "sface.npz" in str(err.value)
