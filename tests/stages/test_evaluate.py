"""Stage `evaluate` end to end: real TFRecords of real faces, a small Keras model trained here,
a real sqlite MLflow registry; evaluated twice, with the gate reading and rewriting
models/champion.json and the registry alias following it; robustness with real SFace on 48
LFW faces."""

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from helpers.faces import make_faces_dir, split_table
from helpers.params import config, section, stage_config
from helpers.stages import run_main, tfrecords_of
from helpers.tracking import store
from mlflow.tracking import MlflowClient

from starrec.artifacts import STARS
from starrec.config import Config
from starrec.dataset.tfrecords import load_split, read_label_map
from starrec.errors import StageError
from starrec.evaluate.reports import REPORT_FILES
from starrec.evaluate.robustness import sha256_of, to_crops
from starrec.faces.degrade import degrade
from starrec.faces.embed import SfaceEmbedder, embed_aligned
from starrec.faces.model_files import ARTIFACTS, model_file
from starrec.io import save_keras
from starrec.model_meta import ModelMeta, write_meta
from starrec.train.embedding_head import fit_embedding_head

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
    # a CNN meets the degraded crops itself (gray 32x32 here), beside eigenfaces
    rob = json.loads((reports / "robustness.json").read_text())
    assert set(rob["scores"]) == {"dense", "eigenfaces"} and rob["n_faces"] == len(y)
    assert rob["scores"]["dense"]["clean"]["accuracy"] == pytest.approx(report["model"]["accuracy"])
    assert report["degraded"]["metrics"]["accuracy"] == pytest.approx(
        rob["degraded_mean"]["dense"]["accuracy"])
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


# 8 people, 6 photos each (3 train, 3 test): hard enough for degradations to show
ROBUST_PEOPLE = dict.fromkeys(["Alejandro_Toledo", "Ariel_Sharon", "Colin_Powell",
                               "Gerhard_Schroeder", "Hugo_Chavez", "Jacques_Chirac",
                               "Tony_Blair", "Vladimir_Putin"], 6)


@pytest.fixture(scope="module")
def sface_head_models(tmp_path_factory, shared_datasets) -> tuple[Path, Path, Path]:
    """(tfrecords, embeddings, models) of 48 real LFW faces, 112x112 RGB, half of them test:
    the embed stage's sface.npz of every crop and a head trained on the train ones, saved
    as the train stage saves it."""
    root = tmp_path_factory.mktemp("robust")
    faces = make_faces_dir(root / "faces", shared_datasets / "lfw-subset", ROBUST_PEOPLE,
                           image_size=112, channels=3)
    tfr = tfrecords_of(faces, split_table(faces, lambda rank, n: ("train", "test")[rank % 2]),
                       root, shard_size=50)
    sface = SfaceEmbedder(model_file("sface", config().faces.models, None))
    splits = {s: load_split(tfr, s, with_ids=True) for s in ("train", "test")}
    vectors = {s: embed_aligned(sface, to_crops(x)) for s, (x, _, _) in splits.items()}
    (root / "embeddings").mkdir()
    np.savez(root / "embeddings/sface.npz",
             face_id=np.r_[splits["train"][2], splits["test"][2]],
             x=np.r_[vectors["train"], vectors["test"]])
    head, history = fit_embedding_head(vectors["train"], splits["train"][1], None, None,
                                       section("train").embedding_head, seed=0)
    models = root / "models"
    models.mkdir()
    save_keras(head, models / "model.keras")
    history.to_csv(models / "history.csv", index=False)
    write_meta(models / "model_meta.json", ModelMeta(
        classes=read_label_map(tfr), image_size=112, channels=3, extract=config().extract,
        model="embedding_head", embedder="sface", embedder_input=sface.input.to_dict(),
        embedder_sha256=ARTIFACTS["sface"].sha256))
    return tfr, root / "embeddings", models


def test_robustness_scores_every_model_clean_and_degraded(sface_head_models, tmp_path) -> None:
    """robustness.json: the head, nearest prototype, the fair baseline and eigenfaces at clean
    and each severity, the degraded copies' bytes fixed by the seed; the head's degraded
    mean in evaluation.json and champion.json; a stale embedding is named."""
    tfr, embeddings, models = sface_head_models
    cfg = stage_config(tmp_path, datasets={STARS: {"paths": {
        "tfrecords": str(tfr), "embeddings": str(embeddings)}}}, evaluate=FAST)
    shutil.copytree(models, cfg.paths.models)
    cfg = cfg.model_copy(update={"mlflow": store(tmp_path / "mlflow", "e")})
    client, run_id, _ = tracked_run(cfg)
    run_main("evaluate", cfg)

    rob = json.loads((cfg.paths.reports / "robustness.json").read_text())
    report = json.loads((cfg.paths.reports / "evaluation.json").read_text())
    x_test, y_test, _ = load_split(tfr, "test", with_ids=True)
    r = cfg.evaluate.robustness
    assert rob["n_faces"] == len(y_test) == 24
    assert rob["severities"] == ["clean", *r.severities]
    scores = rob["scores"]
    assert set(scores) == {"embedding_head", "sface_prototype", "sface_head_augmented",
                           "eigenfaces"}
    assert all(set(scores[m]) == set(rob["severities"]) for m in scores)
    head = scores["embedding_head"]
    assert head["clean"]["accuracy"] == pytest.approx(report["model"]["accuracy"])
    assert scores["sface_prototype"]["clean"]["accuracy"] == pytest.approx(
        report["methods"]["sface_prototype"]["accuracy"])
    # real effects: a 16-pixel face keeps no more than the clean one, and costs the head
    eigen = scores["eigenfaces"]
    assert eigen["px16"]["accuracy"] <= eigen["clean"]["accuracy"]
    assert head["px16"]["accuracy"] < head["clean"]["accuracy"]
    assert rob["degraded_mean"]["embedding_head"]["accuracy"] < head["clean"]["accuracy"]
    crops = to_crops(x_test)
    assert rob["crops_sha256"]["clean"] == sha256_of(crops)
    assert rob["crops_sha256"]["occluded"] == sha256_of(degrade(crops, "occluded", r.seed))

    degraded = report["degraded"]
    assert degraded["severities"] == rob["severities"] and degraded["seed"] == r.seed
    assert degraded["metrics"]["accuracy"] == pytest.approx(
        np.mean([head[s]["accuracy"] for s in r.severities]))
    assert rob["degraded_mean"]["embedding_head"]["accuracy"] == pytest.approx(
        degraded["metrics"]["accuracy"])
    champion = json.loads((cfg.paths.models / "champion.json").read_text())
    assert champion["degraded"] == degraded
    assert (cfg.paths.reports / "robustness.png").read_bytes()[:4] == b"\x89PNG"
    logged = {a.path for a in client.list_artifacts(run_id, "evaluate")}
    assert {"evaluate/robustness.json", "evaluate/robustness.png"} <= logged
    logged = client.get_run(run_id).data.metrics
    assert logged["embedding_head/px16/accuracy"] == pytest.approx(head["px16"]["accuracy"])
    assert logged["model/degraded/accuracy"] == logged["gate/candidate_degraded"] == (
        pytest.approx(degraded["metrics"]["accuracy"]))
    assert report["gate"]["candidate_degraded"] == pytest.approx(degraded["metrics"]["accuracy"])

    # an embedding that is not its crop's (a stale embed stage output) is one line, named
    with np.load(embeddings / "sface.npz") as data:
        ids, x = data["face_id"], data["x"]
    test_ids = set(load_split(tfr, "test", with_ids=True)[2])
    first = next(i for i, f in enumerate(ids) if f in test_ids)
    other = next(i for i, f in enumerate(ids) if f in test_ids and i != first)
    x[[first, other]] = x[[other, first]]
    stale = tmp_path / "stale"
    stale.mkdir()
    np.savez(stale / "sface.npz", face_id=ids, x=x)
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"embeddings": stale})})
    with pytest.raises(StageError, match=rf"sface.npz: face '{ids[first]}' has another "
                                         "embedding than its TFRecord crop"):
        run_main("evaluate", cfg)
