"""Stage `calibrate` on real TFRecords and a real sqlite MLflow: threshold, report, PNG,
and the registered pyfunc, whose promoted alias follows models/champion.json."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers.params import stage_config
from helpers.stages import run_main, write_tfrecords
from helpers.tracking import store
from mlflow import MlflowClient

from starrec.evaluate.gate import write_champion


@pytest.fixture()
def stage_tree(tmp_path, model_dir, known_face_dirs, unknown_faces_dir, people):
    """paths: tfrecords from the known faces, models/ with the trained model + run.json."""
    rows = []
    for split, faces in known_face_dirs.items():
        for r in pd.read_csv(faces / "manifest.csv").to_dict("records"):
            rows.append({"face_id": f"{split}/{r['face_id']}", "class": r["class"],
                         "label": sorted(people).index(r["class"]),
                         "path": str(faces / r["path"]), "split": split, "group": r["face_id"]})
    pd.DataFrame(rows).to_csv(tmp_path / "split.csv", index=False)
    cfg = stage_config(tmp_path, predict={
        "registered_model": "cal-pyfunc", "target_precision": 0.9,
        "unknown": {"path": str(unknown_faces_dir), "max_per_person": 8}})
    # split.csv paths are absolute (the three faces dirs live apart), so the faces root is /
    write_tfrecords(cfg.tfrecords, Path("/"), tmp_path / "split.csv", cfg.paths.tfrecords)
    models = cfg.paths.models
    models.mkdir()
    for f in ("model.keras", "model_meta.json"):
        (models / f).write_bytes((model_dir / f).read_bytes())
    tracking = store(tmp_path / "mlflow", "cal")
    mlflow.set_tracking_uri(tracking.tracking_uri)
    with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name("cal").experiment_id) as run:
        pass
    client = MlflowClient()
    client.create_registered_model("cal-keras")
    v = client.create_model_version("cal-keras", source=f"runs:/{run.info.run_id}/model",
                                    run_id=run.info.run_id)
    (models / "run.json").write_text(json.dumps({
        "run_id": run.info.run_id, "tracking_uri": tracking.tracking_uri,
        "registered_model": "cal-keras", "model_version": v.version}))
    return cfg, run.info.run_id


def test_calibrate_stage(stage_tree) -> None:
    cfg, run_id = stage_tree
    write_champion(cfg.paths.models / "champion.json", {
        "registered_model": "cal-keras", "version": "1", "run_id": run_id, "metrics": {}})
    run_main("calibrate", cfg)
    report = json.loads((cfg.paths.reports / "open_set.json").read_text())
    rule = json.loads((cfg.paths.models / "open_set.json").read_text())
    assert rule["score"] == "max_prob" and rule["precision"] >= 0.9 and rule["reached"]
    saved = json.loads((cfg.paths.reports / "open_set.json").read_text())
    assert saved["threshold"] == rule["threshold"] == report["threshold"]
    who = saved["unknown_people"]
    assert (who["path"], who["n_people"], who["n_faces"]) == (cfg.predict.unknown.path, 4, 32)
    # half the held-out people set the threshold, the other half only judge it
    assert len(who["calibration_people"]) == len(who["report_people"]) == 2
    assert not set(who["calibration_people"]) & set(who["report_people"])
    assert rule["n_unknown"] == 16 and saved["test"]["n_unknown"] == 16
    assert rule["unknown_rejected"] > 0 and rule["model_id"].startswith("sha256:")
    at = saved["test"]["at_threshold"]
    assert at["unknown_rejected"] > at["known_rejected"]
    assert (cfg.paths.reports / "open_set.png").read_bytes()[:4] == b"\x89PNG"
    reg = json.loads((cfg.paths.models / "pyfunc.json").read_text())
    assert reg["aliases"] == ["candidate", "champion"]
    served = mlflow.pyfunc.load_model("models:/cal-pyfunc@champion").unwrap_python_model()
    assert served.predictor.rule.threshold == pytest.approx(rule["threshold"])
    metrics = MlflowClient().get_run(json.loads(
        (cfg.paths.models / "run.json").read_text())["run_id"]).data.metrics
    assert metrics["open_set/threshold"] == pytest.approx(rule["threshold"])


def test_pyfunc_not_promoted_when_the_champion_is_another_run(stage_tree) -> None:
    cfg, _ = stage_tree
    write_champion(cfg.paths.models / "champion.json", {
        "registered_model": "cal-keras", "version": "7", "run_id": "someone-else", "metrics": {}})
    run_main("calibrate", cfg)
    assert json.loads((cfg.paths.models / "pyfunc.json").read_text())["aliases"] == ["candidate"]
    with np.load(cfg.paths.models / "impostors.npz") as bank:  # a CNN has no embeddings
        assert bank["embeddings"].shape == (0, 0) and bank["names"].shape == (0,)
    with pytest.raises(mlflow.exceptions.MlflowException):
        MlflowClient().get_model_version_by_alias("cal-pyfunc", "champion")


def test_stars_that_include_every_held_out_person_fall_back_to_leave_one_star_out(
        stage_tree, known_face_dirs, caplog) -> None:
    """The held-out folder holds only the stars' own people: instead of stopping, each star
    in turn plays the stranger (its own score removed), with a warning naming why."""
    cfg, run_id = stage_tree
    stars_only = cfg.predict.model_copy(update={"unknown": cfg.predict.unknown.model_copy(
        update={"path": str(known_face_dirs["val"])})})
    cfg = cfg.model_copy(update={"predict": stars_only})
    run_main("calibrate", cfg)
    assert "too few to calibrate the unknown threshold" in caplog.text
    assert "leave-one-star-out" in caplog.text
    rule = json.loads((cfg.paths.models / "open_set.json").read_text())
    report = json.loads((cfg.paths.reports / "open_set.json").read_text())
    assert report["unknown_people"]["impostors"] == "leave-one-star-out"
    assert report["unknown_people"]["n_people"] == 0
    n_val = sum(1 for _ in (known_face_dirs["val"]).glob("*/*.png"))
    assert rule["n_unknown"] == rule["n_known"] == n_val  # every val face, both ways
    at = report["test"]["at_threshold"]
    assert at["unknown_rejected"] > at["known_rejected"]
    assert 0 < rule["threshold"] < 1
