"""Stage `evaluate` end to end: real TFRecords of real faces, a small Keras model trained here,
a real sqlite MLflow registry; evaluated twice, with the gate reading and rewriting
models/champion.json and the registry alias following it."""

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from helpers.params import config, section, stage_config
from helpers.stages import run_main
from helpers.tracking import store
from mlflow.tracking import MlflowClient

from starrec.artifacts import STARS
from starrec.config import Config
from starrec.dataset.tfrecords import load_split, read_label_map
from starrec.errors import StageError
from starrec.evaluate.reports import REPORT_FILES
from starrec.model_meta import ModelMeta, write_meta

# a quick, weak baseline: one PCA component (the small model below beats it)
FAST = {"baseline_components": 1, "baseline_C": [10.0], "baseline_gamma": ["scale"],
        "batch_size": 16}


@pytest.fixture(scope="module")
def trained(tfrecord_dir, tmp_path_factory) -> Path:
    """models/ as the train stage leaves it, minus run.json (each test has its own run)."""
    keras.utils.set_random_seed(0)
    models = tmp_path_factory.mktemp("models")
    x, y = load_split(tfrecord_dir, "train")
    model = keras.Sequential([keras.Input((32, 32, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, validation_data=load_split(tfrecord_dir, "val"), epochs=10,
                        batch_size=16, verbose=0)
    model.save(models / "model.keras")
    write_meta(models / "model_meta.json", ModelMeta(
        classes=read_label_map(tfrecord_dir), image_size=32, channels=1,
        extract=config().extract, model="dense"))
    pd.DataFrame(history.history).rename_axis("epoch").reset_index().to_csv(
        models / "history.csv", index=False)
    return models


def stage(tmp_path: Path, trained: Path, tfrecord_dir: Path, **evaluate) -> Config:
    """A config whose models dir is a copy of `trained`, with a tracking store."""
    cfg = stage_config(tmp_path, datasets={STARS: {"paths": {"tfrecords": str(tfrecord_dir)}}},
                       evaluate={**FAST, **evaluate})
    shutil.copytree(trained, cfg.paths.models, dirs_exist_ok=True)
    return cfg.model_copy(update={"mlflow": store(tmp_path / "mlflow", "e")})


def tracked_run(cfg: Config, name: str = "m") -> tuple[MlflowClient, str, str]:
    """A finished MLflow run with a registered version, described in models/run.json."""
    client = MlflowClient(cfg.mlflow.tracking_uri)
    experiment = client.get_experiment_by_name(cfg.mlflow.experiment)
    run = client.create_run(experiment.experiment_id)
    client.log_artifact(run.info.run_id, str(cfg.paths.models / "model.keras"), "model")
    if not client.search_registered_models(f"name='{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(name, f"{run.info.artifact_uri}/model",
                                          run.info.run_id)
    client.set_terminated(run.info.run_id)
    (cfg.paths.models / "run.json").write_text(json.dumps({
        "run_id": run.info.run_id, "experiment_id": experiment.experiment_id,
        "tracking_uri": cfg.mlflow.tracking_uri, "registered_model": name,
        "model_version": int(version.version)}))
    return client, run.info.run_id, str(version.version)


def test_evaluate_end_to_end(tfrecord_dir, trained, tmp_path) -> None:
    cfg = stage(tmp_path, trained, tfrecord_dir, gate={"metric": "macro_f1", "margin": 0.0})
    client, run1, v1 = tracked_run(cfg)
    run_main("evaluate", cfg)
    reports = cfg.paths.reports
    report = json.loads((reports / "evaluation.json").read_text())

    # metrics agree with an independent prediction of the saved model on the test records
    names = read_label_map(tfrecord_dir)
    x, y = load_split(tfrecord_dir, "test")
    pred = keras.saving.load_model(trained / "model.keras").predict(x, verbose=0).argmax(1)
    assert report["model"]["n_samples"] == len(y) == report["baseline"]["n_samples"]
    assert report["model"]["accuracy"] == pytest.approx((pred == y).mean())
    assert set(report["model"]["per_class"]) == set(names)
    assert report["baseline"]["pca_components"] == 1 and "pretrained" not in report

    rows = json.loads((reports / "plots/confusion.json").read_text())
    assert len(rows) == len(y)
    assert [r["actual"] for r in rows] == [names[i] for i in y]
    assert [r["predicted"] for r in rows] == [names[i] for i in pred]
    assert len(json.loads((reports / "plots/learning_curve.json").read_text())) == 10
    assert all((reports / f).stat().st_size > 0 for f in REPORT_FILES)
    assert [p.name for p in reports.iterdir() if p.name.startswith(".")] == []

    # everything went to the same run; the first candidate beats the baseline: promoted,
    # recorded as the champion in models/champion.json, mirrored by the registry alias
    run = client.get_run(run1)
    assert run.data.metrics["model/test/accuracy"] == pytest.approx(report["model"]["accuracy"])
    assert run.data.metrics["eigenfaces/test/macro_f1"] == pytest.approx(
        report["baseline"]["macro"]["f1"])
    assert run.data.tags["gate.decision"] == "promoted"
    logged = {a.path for a in client.list_artifacts(run1, "evaluate")}
    assert {"evaluate/evaluation.json", "evaluate/confusion_matrix.png", "evaluate/plots"} <= logged
    assert report["gate"]["promoted"] and report["gate"]["champion"] is None
    champion = json.loads((cfg.paths.models / "champion.json").read_text())
    assert (champion["version"], champion["run_id"]) == (v1, run1)
    assert champion["metrics"]["macro_f1"] == pytest.approx(report["model"]["macro"]["f1"])
    assert str(client.get_model_version_by_alias("m", "champion").version) == v1

    # a second run of the same model cannot beat the recorded champion by 0.5: it stays
    cfg = cfg.model_copy(update={"evaluate": section("evaluate", **FAST, gate={
        "metric": "macro_f1", "margin": 0.5})})
    _, run2, v2 = tracked_run(cfg)
    run_main("evaluate", cfg)
    report = json.loads((reports / "evaluation.json").read_text())
    assert not report["gate"]["promoted"] and not report["gate"]["beats_champion"]
    assert report["gate"]["champion_version"] == v1 and report["gate"]["candidate_version"] == v2
    assert report["gate"]["champion"] == pytest.approx(run.data.metrics["model/test/macro_f1"])
    assert json.loads((cfg.paths.models / "champion.json").read_text()) == champion
    assert str(client.get_model_version_by_alias("m", "champion").version) == v1
    assert client.get_run(run2).data.tags["gate.decision"] == "refused"


def test_missing_inputs_fail_cleanly(tfrecord_dir, trained, tmp_path) -> None:
    cfg = stage(tmp_path, trained, tfrecord_dir)
    models = cfg.paths.models
    (models / "run.json").write_text(json.dumps({"run_id": "abc"}))
    (models / "history.csv").unlink()
    with pytest.raises(StageError, match="history.csv: training history not found"):
        run_main("evaluate", cfg)
    shutil.copy(trained / "history.csv", models)
    (models / "model.keras").unlink()
    with pytest.raises(StageError, match="model.keras: model not found"):
        run_main("evaluate", cfg)
    assert not cfg.paths.reports.exists()
    no_labels = stage_config(tmp_path, datasets={STARS: {"paths": {"tfrecords": str(tmp_path)}}})
    with pytest.raises(StageError, match="label_map.json: cannot read"):
        run_main("evaluate", no_labels.model_copy(update={"paths": cfg.paths.model_copy(
            update={"tfrecords": tmp_path})}))


def test_a_model_on_embeddings_is_scored_on_the_embed_stage_vectors(tfrecord_dir, trained,
                                                                  tmp_path) -> None:
    """The head reads each test face's vector by face id from `<embedder>.npz`; nearest
    prototype (all / `few_shot` train faces) is reported beside it."""
    from starrec.train.embedding_head import build_embedding_head

    cfg = stage(tmp_path, trained, tfrecord_dir, few_shot=2, few_shot_draws=3)
    (x_train, y_train, train_ids), (x_test, y_test, test_ids) = (
        load_split(tfrecord_dir, s, with_ids=True) for s in ("train", "test"))
    # 3 well-separated class directions plus noise, one vector per face id (order shuffled)
    rng = np.random.default_rng(0)
    ids = np.r_[train_ids, test_ids]
    x = np.eye(3, 8)[np.r_[y_train, y_test]] + 0.3 * rng.normal(size=(len(ids), 8))
    order = rng.permutation(len(ids))
    cfg.paths.embeddings.mkdir(parents=True)
    np.savez(cfg.paths.embeddings / "sface.npz", face_id=ids[order], x=x[order].astype("f4"))
    head = build_embedding_head(8, 3, section("train").embedding_head)
    head.save(cfg.paths.models / "model.keras")
    meta = json.loads((cfg.paths.models / "model_meta.json").read_text())
    (cfg.paths.models / "model_meta.json").write_text(json.dumps(
        {**meta, "model": "embedding_head", "embedder": "sface", "image_size": 112,
         "channels": 3}))
    client, run_id, _ = tracked_run(cfg)
    run_main("evaluate", cfg)

    report = json.loads((cfg.paths.reports / "evaluation.json").read_text())
    probs = head.predict(x[len(train_ids):], verbose=0)
    assert report["model"]["accuracy"] == pytest.approx((probs.argmax(1) == y_test).mean())
    x_train, x_test = x[:len(train_ids)], x[len(train_ids):]
    centres = np.stack([x_train[y_train == k].mean(axis=0) for k in range(3)])
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    nearest = (x_test @ centres.T).argmax(axis=1)
    methods = report["methods"]
    assert set(methods) == {"sface_prototype", "sface_prototype_2shot"}
    assert methods["sface_prototype"]["accuracy"] == pytest.approx((nearest == y_test).mean())
    table = pd.read_csv(cfg.paths.reports / "comparison.csv")
    assert set(table["embedder"]) == {"embedding_head (the model)", "eigenfaces (baseline)",
                                      "sface_prototype", "sface_prototype_2shot"}
    assert (cfg.paths.reports / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    assert client.get_run(run_id).data.metrics["sface_prototype/test/accuracy"] == pytest.approx(
        methods["sface_prototype"]["accuracy"])
    (cfg.paths.embeddings / "sface.npz").unlink()
    np.savez(cfg.paths.embeddings / "sface.npz", face_id=ids[1:], x=x[1:].astype("f4"))
    with pytest.raises(StageError, match=rf"sface.npz: no embedding for face '{ids[0]}'"):
        run_main("evaluate", cfg)
