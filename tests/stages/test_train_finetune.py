"""Stage `train` with `model: finetune` on 112x112 RGB TFRecords of real LFW faces: the
outputs, MLflow run and registry of the image models; the meta names the face-model files'
licences, and the registered model loads in MLflow (nothing of starrec needed to load it)
and predicts what the saved file predicts. Crops of another shape stop the stage in one line."""

from __future__ import annotations

import json

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers.models import fast_train
from helpers.params import stage_config
from helpers.stages import run_main
from helpers.tracking import store
from mlflow.tracking import MlflowClient

from starrec.artifacts import STARS
from starrec.dataset.tfrecords import list_shards, make_dataset
from starrec.errors import StageError
from starrec.faces.model_files import ARTIFACTS


def config(tmp_path, tfrecords):
    tracking = store(tmp_path / "mlflow", "t", registered_model="stars")
    cfg = stage_config(tmp_path, datasets={STARS: {"paths": {"tfrecords": str(tfrecords)}}})
    return cfg.model_copy(update={"mlflow": tracking,
                                  "train": fast_train(model="finetune", batch_size=8)})


def test_finetune_stage_outputs_run_and_registered_model(aligned_tfrecords, tmp_path,
                                                         monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # run_tags reads git and dvc.lock from the working dir
    cfg = config(tmp_path, aligned_tfrecords)
    run_main("train", cfg)

    models = cfg.paths.models
    meta = json.loads((models / "model_meta.json").read_text())
    assert (meta["model"], meta["image_size"], meta["channels"]) == ("finetune", 112, 3)
    assert meta["input_range"] == [0.0, 1.0] and "embedder" not in meta
    assert meta["licences"] == {ARTIFACTS["yunet"].filename: "MIT",
                                ARTIFACTS["sface"].filename: "Apache-2.0"}
    history = pd.read_csv(models / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    assert not (models / "checkpoints").exists()

    info = json.loads((models / "run.json").read_text())
    client = MlflowClient(cfg.mlflow.tracking_uri)
    run = client.get_run(info["run_id"])
    assert run.data.params["train.model"] == "finetune"
    assert run.data.params["train.finetune.margin"] == "0.2"
    assert not any(k.startswith(("train.transfer.", "train.embedding_head."))
                   for k in run.data.params)
    assert run.data.tags[f"licence.{ARTIFACTS['sface'].filename}"] == "Apache-2.0"
    assert client.get_model_version_by_alias("stars", "candidate").run_id == info["run_id"]

    x = next(iter(make_dataset(list_shards(aligned_tfrecords, "test"), batch_size=64)))[0].numpy()
    saved = keras.saving.load_model(models / "model.keras").predict(x, verbose=0)
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    logged = mlflow.keras.load_model("models:/stars@candidate").predict(x, verbose=0)
    np.testing.assert_allclose(logged, saved, atol=1e-6)


def test_crops_that_are_not_aligned_112_rgb_stop_the_stage(tfrecord_dir, tmp_path,
                                                          monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match=r"finetune needs aligned 112x112 RGB crops, got 32x32x1"):
        run_main("train", config(tmp_path, tfrecord_dir))
