"""Stage `train` on tiny real TFRecords: its outputs, one MLflow run in a real sqlite store
with the params it read, and the model registered as `candidate`."""

from __future__ import annotations

import json

import keras
import mlflow
import numpy as np
import pandas as pd
from helpers.models import fast_train
from helpers.params import stage_config
from helpers.stages import run_main
from helpers.tracking import store
from mlflow.tracking import MlflowClient

from starrec.artifacts import STARS
from starrec.dataset.tfrecords import list_shards, make_dataset


def test_train_stage_outputs_and_mlflow_run(tfrecord_dir, augmented_dir, tmp_path,
                                            monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # run_tags reads git and dvc.lock from the working dir
    tracking = store(tmp_path / "mlflow", "t", registered_model="stars")
    cfg = stage_config(tmp_path, datasets={STARS: {"paths": {"tfrecords": str(tfrecord_dir)}}},
                       paths={"augmented": str(augmented_dir)})
    cfg = cfg.model_copy(update={"mlflow": tracking, "train": fast_train(
        model="star_cnn", use_augmented=True, online_augmentation=True)})
    run_main("train", cfg)

    models = cfg.paths.models
    info = json.loads((models / "run.json").read_text())
    assert set(info) == {"run_id", "experiment_id", "tracking_uri", "registered_model",
                         "model_version", "model_id"}
    assert info["tracking_uri"] == tracking.tracking_uri and info["model_version"] == 1
    meta = json.loads((models / "model_meta.json").read_text())
    assert meta["classes"] == json.loads((tfrecord_dir / "label_map.json").read_text())["classes"]
    assert (meta["image_size"], meta["channels"]) == (32, 1)
    assert meta["extract"] == cfg.extract.model_dump(mode="json")
    history = pd.read_csv(models / "history.csv")
    assert len(history) == 2 and history["lr"].notna().all()
    assert (models / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert not (models / "checkpoints").exists()

    client = MlflowClient(tracking.tracking_uri)
    run = client.get_run(info["run_id"])
    assert run.info.status == "FINISHED"
    params = run.data.params  # exactly the sections the stage declares in dvc.yaml
    assert params["train.model"] == "star_cnn" and params["augment.copies"] == "2"
    assert params["datasets.stars.download.min_images_per_class"] == "70"
    assert not any(k.startswith(("pretrain.", "evaluate.", "predict.")) for k in params)
    assert run.data.tags["dataset.name"] == "lfw-subset (folder, >= 70 per class)"
    assert int(run.data.tags["dataset.size.train_aug"]) > 0
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):  # step = epoch from 1
        steps = [m.step for m in client.get_metric_history(info["run_id"], key)]
        assert sorted(steps) == [1, 2], key
    assert client.get_logged_model(info["model_id"]).source_run_id == info["run_id"]
    artifacts = {a.path for a in client.list_artifacts(info["run_id"])}
    assert {"learning_curves.png", "model_summary.txt", "label_map.json"} <= artifacts

    version = client.get_model_version_by_alias("stars", "candidate")
    assert str(version.version) == "1" and version.run_id == info["run_id"]
    x = next(iter(make_dataset(list_shards(tfrecord_dir, "test"), batch_size=64)))[0].numpy()
    saved = keras.saving.load_model(models / "model.keras").predict(x, verbose=0)
    mlflow.set_tracking_uri(tracking.tracking_uri)
    logged = mlflow.keras.load_model("models:/stars@candidate").predict(x, verbose=0)
    pyfunc = mlflow.pyfunc.load_model("models:/stars/1").predict(x)
    np.testing.assert_allclose(logged, saved, atol=1e-6)
    np.testing.assert_allclose(np.asarray(pyfunc), saved, atol=1e-6)
