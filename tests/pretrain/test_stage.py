"""The pretrain stage end to end on real TFRecords: star people excluded, outputs written,
the backbone registered in a real sqlite MLflow."""

from __future__ import annotations

import json

import keras
import numpy as np
import pandas as pd
import pytest

from starrec.config import ExtractParams, MlflowParams
from starrec.pretrain.stage import pretrain

from .conftest import tiny_params


@pytest.mark.slow
def test_pretrain_excludes_targets_and_registers_backbone(tmp_path, public_tfrecords, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    stars = tmp_path / "manifest.csv"  # the main data set's raw manifest
    pd.DataFrame({"class": ["colin powell", "TONY_BLAIR", "ben_afflek"],
                  "status": ["ok", "ok", "ok"]}).to_csv(stars, index=False)
    tracking = MlflowParams(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", experiment="t")
    models = tmp_path / "models"
    report = pretrain(tiny_params(epochs=1, holdout_people=0.5), ExtractParams(), tracking,
                      public_tfrecords, stars, models)

    assert report["excluded_targets"] == ["Colin_Powell", "Tony_Blair"]
    held = report["identities"]["held_out_people"]
    assert report["identities"] == {"train": 2, "held_out": 2, "held_out_people": held}
    assert not {"Colin_Powell", "Tony_Blair"} & set(held)
    impostors = np.load(models / "backbone_impostors.npz")
    assert set(impostors["names"]) == set(held)
    assert 0.0 <= report["verification"]["roc_auc"] <= 1.0
    assert json.loads((models / "backbone_report.json").read_text()) == json.loads(
        json.dumps(report))
    backbone = keras.saving.load_model(models / "backbone.keras")
    assert backbone.output_shape == (None, 32)

    import mlflow

    mlflow.set_tracking_uri(tracking.tracking_uri)
    loaded = mlflow.keras.load_model(f"models:/starrec-backbone/{report['mlflow']['model_version']}")
    x = np.random.default_rng(0).random((2, *backbone.input_shape[1:]), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), backbone.predict(x, verbose=0),
                               atol=1e-5)
    run = mlflow.get_run(report["mlflow"]["run_id"])
    assert run.data.metrics["verify_roc_auc"] == pytest.approx(report["verification"]["roc_auc"])
