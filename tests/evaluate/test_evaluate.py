"""End to end: real TFRecords of real faces, a small Keras model trained here, a real
sqlite MLflow registry; evaluate twice and check reports, the run and the alias."""

import json

import keras
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from starrec.config import EvaluateParams, GateParams, MlflowParams, TfrecordsParams
from starrec.dataset.tfrecords import list_shards, make_dataset, read_label_map, write_tfrecords
from starrec.evaluate.evaluate import REPORT_FILES, evaluate_model
from starrec.stage import StageError

FAST = {"baseline_components": 20, "baseline_C": [10.0], "baseline_gamma": ["scale"],
        "batch_size": 16}


@pytest.fixture(scope="module")
def tfrecord_dir(faces_dir, tmp_path_factory):
    manifest = pd.read_csv(faces_dir / "manifest.csv")
    classes = sorted(manifest["class"].unique())
    nth = manifest.groupby("class").cumcount()
    split = pd.DataFrame({
        "face_id": manifest["face_id"], "class": manifest["class"],
        "label": manifest["class"].map(classes.index), "path": manifest["path"],
        "split": np.select([nth % 4 == 0, nth % 4 == 1], ["test", "val"], "train")})
    root = tmp_path_factory.mktemp("tfr")
    split.to_csv(root / "split.csv", index=False)
    write_tfrecords(TfrecordsParams(shard_size=20), faces_dir, root / "split.csv", root / "out")
    return root / "out"


@pytest.fixture(scope="module")
def trained(tfrecord_dir, tmp_path_factory):
    """models/ as the train stage leaves it, minus run.json (each test has its own run)."""
    keras.utils.set_random_seed(0)
    models = tmp_path_factory.mktemp("models")
    train = make_dataset(list_shards(tfrecord_dir, "train"), batch_size=16, shuffle=True, seed=0)
    val = make_dataset(list_shards(tfrecord_dir, "val"), batch_size=16)
    model = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=3, verbose=0)
    model.save(models / "model.keras")
    pd.DataFrame(history.history).rename_axis("epoch").reset_index().to_csv(
        models / "history.csv", index=False)
    return models


def _tracked_run(models, tmp_path, name="m"):
    """A finished MLflow run with a registered version, described in models/run.json."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("e") or client.get_experiment(
        client.create_experiment("e", artifact_location=(tmp_path / "art").as_uri()))
    run = client.create_run(experiment.experiment_id)
    client.log_artifact(run.info.run_id, str(models / "model.keras"), "model")
    if not client.search_registered_models(f"name='{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(name, f"{run.info.artifact_uri}/model",
                                          run.info.run_id)
    client.set_terminated(run.info.run_id)
    (models / "run.json").write_text(json.dumps({
        "run_id": run.info.run_id, "experiment_id": experiment.experiment_id,
        "tracking_uri": uri, "registered_model": name, "model_version": int(version.version)}))
    return client, run.info.run_id, str(version.version), MlflowParams(tracking_uri=uri)


def test_evaluate_end_to_end(tfrecord_dir, trained, tmp_path) -> None:
    client, run1, v1, mcfg = _tracked_run(trained, tmp_path)
    reports = tmp_path / "reports"
    cfg = EvaluateParams(**FAST, gate=GateParams(metric="macro_f1", margin=-1.0))
    report = evaluate_model(cfg, mcfg, tfrecord_dir, trained, reports)

    # metrics agree with an independent prediction of the saved model on the test records
    names = read_label_map(tfrecord_dir)
    x, y = zip(*[(a.numpy(), b.numpy()) for a, b in make_dataset(
        list_shards(tfrecord_dir, "test"), batch_size=64)])
    x, y = np.concatenate(x), np.concatenate(y)
    pred = keras.saving.load_model(trained / "model.keras").predict(x, verbose=0).argmax(1)
    on_disk = json.loads((reports / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(report))
    assert report["model"]["n_samples"] == len(y) == report["baseline"]["n_samples"]
    assert report["model"]["accuracy"] == pytest.approx((pred == y).mean())
    assert set(report["model"]["per_class"]) == set(names)
    assert report["baseline"]["accuracy"] > 0.5 and report["baseline"]["pca_components"] == 20

    rows = json.loads((reports / "plots/confusion.json").read_text())
    assert len(rows) == len(y)
    assert [r["actual"] for r in rows] == [names[i] for i in y]
    assert [r["predicted"] for r in rows] == [names[i] for i in pred]
    assert len(json.loads((reports / "plots/learning_curve.json").read_text())) == 3
    assert all((reports / f).stat().st_size > 0 for f in REPORT_FILES)
    assert [p.name for p in reports.iterdir() if p.name.startswith(".")] == []

    # everything went to the same run; first run with a margin of -1 passes the gate
    run = client.get_run(run1)
    assert run.data.metrics["test_accuracy"] == pytest.approx(report["model"]["accuracy"])
    assert run.data.metrics["baseline_macro_f1"] == pytest.approx(
        report["baseline"]["macro"]["f1"])
    assert run.data.tags["gate.decision"] == "promoted"
    logged = {a.path for a in client.list_artifacts(run1, "evaluate")}
    assert {"evaluate/metrics.json", "evaluate/confusion_matrix.png", "evaluate/plots"} <= logged
    assert report["gate"]["promoted"] and report["gate"]["champion"] is None
    assert str(client.get_model_version_by_alias("m", "champion").version) == v1

    # a second run of the same model cannot beat the champion by 0.5: alias stays
    _, run2, v2, _ = _tracked_run(trained, tmp_path)
    cfg = EvaluateParams(**FAST, gate=GateParams(metric="macro_f1", margin=0.5))
    report = evaluate_model(cfg, mcfg, tfrecord_dir, trained, reports)
    assert not report["gate"]["promoted"] and not report["gate"]["beats_champion"]
    assert report["gate"]["champion_version"] == v1 and report["gate"]["candidate_version"] == v2
    assert report["gate"]["champion"] == pytest.approx(run.data.metrics["test_macro_f1"])
    assert str(client.get_model_version_by_alias("m", "champion").version) == v1
    assert client.get_run(run2).data.tags["gate.decision"] == "refused"
    mlflow.set_tracking_uri(None)


def test_missing_model_fails_cleanly(tfrecord_dir, trained, tmp_path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "run.json").write_text(json.dumps({"run_id": "abc"}))
    with pytest.raises(StageError, match="history.csv: training history not found"):
        evaluate_model(EvaluateParams(**FAST), MlflowParams(), tfrecord_dir, models,
                       tmp_path / "reports")
    (models / "history.csv").write_bytes((trained / "history.csv").read_bytes())
    with pytest.raises(StageError, match="model.keras: model not found"):
        evaluate_model(EvaluateParams(**FAST), MlflowParams(), tfrecord_dir, models,
                       tmp_path / "reports")
    assert not (tmp_path / "reports").exists()
    with pytest.raises(StageError, match="label_map.json: cannot read"):
        evaluate_model(EvaluateParams(**FAST), MlflowParams(), tmp_path, models,
                       tmp_path / "reports")


def test_pretrained_backbone_reported_beside_the_cnn(tfrecord_dir, trained, tmp_path) -> None:
    from starrec.config import PretrainParams
    from starrec.pretrain.backbone import build_backbone
    from starrec.pretrain.compare import pretrained_scores

    keras.utils.set_random_seed(0)
    backbone = tmp_path / "backbone.keras"
    build_backbone((32, 32, 1), PretrainParams(widths=[8, 16], embedding_dim=16)).save(backbone)
    client, run_id, _, mcfg = _tracked_run(trained, tmp_path)
    cfg = EvaluateParams(**FAST, few_shot=2)
    with pytest.raises(StageError, match="nope.keras: backbone not found"):
        evaluate_model(cfg, mcfg, tfrecord_dir, trained, tmp_path / "r0", tmp_path / "nope.keras")
    report = evaluate_model(cfg, mcfg, tfrecord_dir, trained, tmp_path / "r", backbone)

    assert set(report["pretrained"]) == {"transfer", "prototype", "prototype_2shot"}
    x, y = zip(*[(a.numpy(), b.numpy()) for split in ("train", "test") for a, b in make_dataset(
        list_shards(tfrecord_dir, split), batch_size=64)])
    n_train = len(list(make_dataset(list_shards(tfrecord_dir, "train"), batch_size=64)))
    x_train, y_train = np.concatenate(x[:n_train]), np.concatenate(y[:n_train])
    x_test, y_test = np.concatenate(x[n_train:]), np.concatenate(y[n_train:])
    scores = pretrained_scores(backbone, x_train, y_train, x_test, shots=2, seed=cfg.seed)
    for method, s in scores.items():
        got = report["pretrained"][method]
        assert got["n_samples"] == len(y_test)
        assert got["accuracy"] == pytest.approx((s.argmax(1) == y_test).mean())
    metrics = client.get_run(run_id).data.metrics
    assert metrics["pretrained_prototype_2shot_accuracy"] == pytest.approx(
        report["pretrained"]["prototype_2shot"]["accuracy"])
    assert json.loads((tmp_path / "r/metrics.json").read_text())["pretrained"] == json.loads(
        json.dumps(report["pretrained"]))
    mlflow.set_tracking_uri(None)
