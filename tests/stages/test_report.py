"""Stage `report` in process: real reports (metrics computed here), a real sqlite MLflow
store with a run and two registered versions; the headline file, the model card and what
the MLflow UI shows (run description, version tags and descriptions)."""

import json

import numpy as np
import pytest
from helpers.params import config, stage_config
from helpers.stages import run_main
from helpers.tracking import store
from mlflow.tracking import MlflowClient

from starrec.errors import StageError
from starrec.evaluate.headline import headline
from starrec.evaluate.metrics import classification_metrics
from starrec.faces.model_files import licences
from starrec.faces.embed import face_model_files
from starrec.model_meta import ModelMeta, write_meta

CLASSES = ["Ariel_Sharon", "Colin_Powell", "Tony_Blair"]
TAGS = {"git.commit": "316282e" * 5 + "abcde", "git.dirty": "False",
        "dataset.name": "lfw-subset (folder, >= 70 per class)",
        "dvc.split.data/splits": "9a3c.dir"}


def registered(client: MlflowClient, name: str, run) -> str:
    client.create_registered_model(name)
    return client.create_model_version(name, f"{run.info.artifact_uri}/m", run.info.run_id).version


@pytest.fixture
def inputs(tmp_path):
    cfg = stage_config(tmp_path)
    cfg = cfg.model_copy(update={"mlflow": store(tmp_path / "mlflow", "r")})
    client = MlflowClient(cfg.mlflow.tracking_uri)
    run = client.create_run(client.get_experiment_by_name("r").experiment_id, tags=TAGS)
    keras_v, pyfunc_v = registered(client, "rk", run), registered(client, "rk-pyfunc", run)
    y = np.array([0, 0, 1, 1, 2, 2])
    guess = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    evaluation = {
        "model": classification_metrics(y, y, np.eye(3)[y], CLASSES, 2),
        "baseline": classification_metrics(y, guess.argmax(1), guess, CLASSES, 2),
        "gate": {"promoted": True, "reason": "promoted: accuracy 1.0000 vs baseline 0.6667"}}
    open_set = {"threshold": 0.8, "test": {"at_threshold": {
        "known_rejected": 0.1, "unknown_rejected": 0.9, "known_accuracy": 1.0}}}
    models, reports = cfg.paths.models, cfg.paths.reports
    reports.mkdir(parents=True)
    (reports / "evaluation.json").write_text(json.dumps(evaluation))
    (reports / "open_set.json").write_text(json.dumps(open_set))
    write_meta(models / "model_meta.json", ModelMeta(
        classes=CLASSES, image_size=112, channels=3, extract=config().extract,
        model="embedding_head", embedder="sface",
        licences=licences(face_model_files("yunet", "sface"))))  # as train records them
    (models / "run.json").write_text(json.dumps({
        "run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
        "tracking_uri": cfg.mlflow.tracking_uri, "registered_model": "rk",
        "model_version": int(keras_v)}))
    (models / "pyfunc.json").write_text(json.dumps(
        {"registered_model": "rk-pyfunc", "model_version": pyfunc_v}))
    return cfg, client, run.info.run_id, headline(evaluation, open_set)


def test_report_writes_the_headline_and_tells_the_story_in_mlflow(inputs) -> None:
    cfg, client, run_id, numbers = inputs
    run_main("report", cfg)

    metrics = json.loads((cfg.paths.reports / "metrics.json").read_text())
    assert metrics == numbers and len(metrics) == 7  # no methods: model, baseline, open set
    assert all(isinstance(v, float) for v in metrics.values())
    card = (cfg.paths.reports / "model_card.md").read_text()
    assert "# rk v1" in card and "| git.commit | " in card and "9a3c.dir" in card
    assert "| face_detection_yunet" in card and "| face_recognition_sface" in card
    assert "| model/acc | 1.0000 |" in card and "promoted: accuracy" in card

    run = client.get_run(run_id)
    assert "promoted: accuracy" in run.data.tags["mlflow.note.content"]
    assert "model/acc **1.000**" in run.data.tags["mlflow.note.content"]
    assert [a.path for a in client.list_artifacts(run_id)] == ["model_card.md"]
    for name in ("rk", "rk-pyfunc"):
        version = client.get_model_version(name, "1")
        assert version.description == card
        assert version.tags["git.commit"] == TAGS["git.commit"]
        assert version.tags["dvc.split.data/splits"] == "9a3c.dir"
        assert version.tags["model/acc"] == "1.0000" and version.tags["gate/promoted"] == "1.0000"
        assert "model card" in client.get_registered_model(name).description


def test_missing_report_fails_cleanly(inputs) -> None:
    cfg, *_ = inputs
    (cfg.paths.reports / "open_set.json").unlink()
    with pytest.raises(StageError, match="open_set.json: cannot read"):
        run_main("report", cfg)
