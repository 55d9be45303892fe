"""Stage `train`: the star data set's TFRecords (+ augmented shards) → model.keras,
model_meta.json, history.csv, learning_curves.png and run.json in `paths.models`, one MLflow
run, the model registered with alias `candidate`.

With `train.transfer.weights: pretrained` the model is built on `paths.models/backbone.keras`
(the pretrain stage's output). An interrupted run resumes from its checkpoints and MLflow run.

With `train.model: finetune` the pretrained SFace (its verified file, `faces.models`) is
fine-tuned on the TFRecord crops with a CosFace head, then saved with it as one model.

With `train.model: embedding_head` the input is not TFRecords but the embed stage's
`paths.embeddings/<faces.embedder>.npz` joined with the star split.csv: a head on pretrained
embeddings trains in seconds, so it has no checkpoints; its meta and run record the embedder
and the licences of the face model files it stands on.
"""

from __future__ import annotations

import json
import logging
import os
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import numpy as np
import pandas as pd

from starrec.artifacts import (
    BACKBONE,
    CHECKPOINTS,
    EMBEDDINGS_META,
    HISTORY,
    LEARNING_CURVES,
    MODEL,
    MODEL_META,
    RUN,
    SPLIT_CSV,
    STARS,
    embeddings_file,
)
from starrec.config import Config, TrainParams
from starrec.dataset.augment import online_augmentation_layers
from starrec.dataset.tfrecords import read_schema
from starrec.errors import StageError
from starrec.faces.model_files import ModelFileError, licences, model_file
from starrec.faces.embed import face_model_files
from starrec.io import save_keras, scratch_dir
from starrec.model_meta import ModelMeta, write_meta
from starrec.stage import run_stage
from starrec.tracking import (
    connect,
    dataset_name,
    flatten_params,
    log_split_inputs,
    run_name,
    run_tags,
    write_run_json,
)
from starrec.train.data import load_data
from starrec.train.devices import is_chief, setup_devices
from starrec.train.embedding_data import EmbeddingData, load_embedding_data
from starrec.train.embedding_head import fit_embedding_head
from starrec.train.finetune import finetune
from starrec.train.fit import compile_model, discard_stale_checkpoints, fit_model, run_fingerprint
from starrec.train.models import build_model, load_backbone, uses_backbone
from starrec.train.multi_worker import fit_distributed_head
from starrec.train.registry import log_keras_model, remember_run, resumable_run_id
from starrec.train.report import plot_learning_curves, write_history

if TYPE_CHECKING:  # imported by starrec's modules, after starrec: quietly (starrec.log)
    import keras
    import tensorflow as tf

log = logging.getLogger("starrec.train")
def main(cfg: Config) -> None:
    t, models = cfg.train, cfg.paths.models
    uri = connect(cfg.mlflow)  # fail fast, before any training time is spent
    models.mkdir(parents=True, exist_ok=True)
    checkpoints = models / CHECKPOINTS
    if t.model == "embedding_head":
        train_embedding_head(cfg, uri)
        return
    if t.model == "finetune":
        train_finetune(cfg, uri)
        return

    strategy = setup_devices(t)
    augment = None
    if t.online_augmentation:
        channels = int(read_schema(cfg.paths.tfrecords)["image"]["channels"])
        augment = online_augmentation_layers(cfg.augment, channels)
    data = load_data(t, cfg.paths.tfrecords, cfg.paths.augmented, augment)
    with strategy.scope():
        backbone = load_backbone(models / BACKBONE, data.input_shape) if uses_backbone(t) else None
        model = build_model(t, data.input_shape, len(data.classes), backbone)
        compile_model(model, t)

    discard_stale_checkpoints(checkpoints, run_fingerprint(model, t, data))
    resumed = resumable_run_id(checkpoints)
    with mlflow.start_run(run_id=resumed, run_name=run_name("train", t.model, Path("."))) as run:
        remember_run(checkpoints, run.info.run_id)
        if resumed is None:
            mlflow.log_params(flatten_params(logged_params(cfg)))
            describe_data(cfg, data.sizes)
        start = time.perf_counter()
        history = fit_model(model, t, data, checkpoints)
        seconds = time.perf_counter() - start
        best = best_epoch(history, seconds)
        log.info("trained %d epochs in %.0f s; best val_loss %.4f (val accuracy %.4f) at "
                 "epoch %d", len(history), seconds, best["best_val_loss"],
                 best["best_val_accuracy"], best["best_epoch"])

        height, width, channels = data.input_shape
        save_keras(model, models / MODEL)
        write_meta(models / MODEL_META, ModelMeta(
            classes=data.classes, image_size=height, image_shape=[height, width, channels],
            channels=channels, input_range=[0.0, 1.0], model=t.model, extract=cfg.extract,
            licences=licences(face_model_files(cfg.extract.detector, None))))
        example = next(iter(data.val.take(1)))[0].numpy()[:2]
        register(cfg, run, uri, model, history, example, data.classes,
                 f"{t.model}: {len(data.classes)} classes")


def train_embedding_head(cfg: Config, uri: str) -> None:
    """The embedding head on the embed stage's vectors: same outputs, run and registry."""
    t, models, name = cfg.train, cfg.paths.models, cfg.faces.embedder
    npz = cfg.paths.embeddings / embeddings_file(name)
    try:
        data = load_embedding_data(cfg.paths.splits / SPLIT_CSV, npz)
        embedder = json.loads((cfg.paths.embeddings / EMBEDDINGS_META).read_text())[name]
    except (OSError, KeyError, ValueError) as exc:  # ValueError: EmbeddingDataError, bad JSON
        raise StageError(f"{npz}: cannot train on {name} embeddings ({exc})") from exc
    licence = licences(face_model_files(cfg.extract.detector, name))
    strategy = setup_devices(t) if t.strategy != "default" else None
    if not is_chief(os.environ.get("TF_CONFIG")):
        train_as_worker(cfg, data, strategy)
        return
    with mlflow.start_run(run_name=run_name("train", t.model, Path("."))) as run:
        mlflow.log_params(flatten_params(logged_params(cfg)))
        describe_data(cfg, data.sizes, {"embedder": name,
                                         **{f"licence.{f}": v for f, v in licence.items()}})
        start = time.perf_counter()
        model, history = fit_head(data, t, strategy)
        seconds = time.perf_counter() - start
        for row in history.itertuples(index=False):  # step = epoch, from 1 as everywhere
            mlflow.log_metrics({k: float(v) for k, v in row._asdict().items() if k != "epoch"},
                               step=int(row.epoch))
        best_epoch(history, seconds)
        log.info("embedding head on %s: %d epochs in %.1f s; val accuracy %.4f at the last "
                 "epoch", name, len(history), seconds, history["val_accuracy"].iloc[-1])
        spec = embedder["input"]
        save_keras(model, models / MODEL)
        write_meta(models / MODEL_META, ModelMeta(
            classes=data.classes, image_size=int(spec["size"]), channels=3,
            extract=cfg.extract, model=t.model, embedder=name, embedder_input=spec,
            embedder_sha256=embedder["model_sha256"], licences=licence))
        register(cfg, run, uri, model, history, data.x["val"][:2], data.classes,
                 f"{t.model} on {name}: {len(data.classes)} classes")


def train_finetune(cfg: Config, uri: str) -> None:
    """SFace fine-tuned with a CosFace head on the TFRecord crops: the outputs, run and
    registry of a CNN, its meta and run naming the face-model files it stands on."""
    t, models = cfg.train, cfg.paths.models
    try:
        sface = model_file("sface", cfg.faces.models, cfg.download.http)
    except ModelFileError as exc:
        raise StageError(str(exc)) from exc
    licence = licences(face_model_files(cfg.extract.detector, "sface_keras"))
    with mlflow.start_run(run_name=run_name("train", t.model, Path("."))) as run:
        mlflow.log_params(flatten_params(logged_params(cfg)))
        start = time.perf_counter()
        done = finetune(t, cfg.paths.tfrecords, cfg.paths.augmented, sface, models / CHECKPOINTS)
        seconds = time.perf_counter() - start
        describe_data(cfg, done.data.sizes, {f"licence.{f}": v for f, v in licence.items()})
        best = best_epoch(done.history, seconds)
        log.info("finetune: %d epochs in %.0f s; best val_loss %.4f (val accuracy %.4f) at "
                 "epoch %d", len(done.history), seconds, best["best_val_loss"],
                 best["best_val_accuracy"], best["best_epoch"])
        height, width, channels = done.data.input_shape
        save_keras(done.model, models / MODEL)
        write_meta(models / MODEL_META, ModelMeta(
            classes=done.data.classes, image_size=height, image_shape=[height, width, channels],
            channels=channels, input_range=[0.0, 1.0], model=t.model, extract=cfg.extract,
            licences=licence))
        example = next(iter(done.data.val.take(1)))[0].numpy()[:2]
        register(cfg, run, uri, done.model, done.history, example, done.data.classes,
                 f"finetune (SFace + CosFace): {len(done.data.classes)} classes")


def train_as_worker(cfg: Config, data: EmbeddingData,
                    strategy: tf.distribute.Strategy | None) -> None:
    """A non-chief worker of a multi-worker run: trains its share in step with the chief;
    its save goes to a temp dir that is dropped (the chief writes the outputs and the run)."""
    model, _ = fit_head(data, cfg.train, strategy)
    with scratch_dir(cfg.paths.models / MODEL) as tmp:
        save_keras(model, tmp / MODEL)
    log.info("worker done: the chief saved the model and logged the run")


def fit_head(data: EmbeddingData, t: TrainParams, strategy: tf.distribute.Strategy | None
             ) -> tuple[keras.Model, pd.DataFrame]:
    """Keras `fit` in one process; the custom loop on a tf.distribute strategy."""
    fit = fit_embedding_head if strategy is None else partial(fit_distributed_head,
                                                              strategy=strategy)
    return fit(data.x["train"], data.y["train"], data.x["val"], data.y["val"],
               t.embedding_head, t.seed)


def register(cfg: Config, run: mlflow.ActiveRun, uri: str, model: keras.Model,
             history: pd.DataFrame, example: np.ndarray, classes: list[str], title: str) -> None:
    """The end both model kinds share: history + curves, the logged and registered model
    (alias `candidate`), then run.json last (evaluate resumes that run)."""
    models = cfg.paths.models
    write_history(history, models / HISTORY)
    plot_learning_curves(history, models / LEARNING_CURVES, title)
    version, model_id = log_keras_model(
        model, example, classes, [models / LEARNING_CURVES, models / HISTORY, models / MODEL_META],
        cfg.mlflow.registered_model)
    info = {"run_id": run.info.run_id, "experiment_id": run.info.experiment_id,
            "tracking_uri": uri, "registered_model": cfg.mlflow.registered_model,
            "model_version": version, "model_id": model_id}
    write_run_json(models / RUN, **info)
    log.info("MLflow run %s; registered %s version %s as candidate", info["run_id"],
             cfg.mlflow.registered_model, version)


def describe_data(cfg: Config, sizes: dict[str, int], tags: dict[str, str] | None = None
                  ) -> None:
    """The active run's provenance tags (code, data hashes, sizes; and `tags`) and its
    train/val/test splits as dataset inputs: what every model kind logs."""
    name = dataset_name(cfg.download)
    mlflow.set_tags({**run_tags(Path("."), name, sizes), **(tags or {})})
    log_split_inputs(cfg.paths.splits / SPLIT_CSV, name, Path("dvc.lock"))


def best_epoch(history: pd.DataFrame, seconds: float) -> dict[str, float]:
    """The epoch (numbered from 1, as history.csv, the PNG and MLflow's steps) with the
    lowest val_loss and its figures, logged to the active run with the training time."""
    best = history.loc[history["val_loss"].idxmin()]
    numbers = {"train_seconds": seconds, "best_epoch": int(best["epoch"]),
               "best_val_loss": float(best["val_loss"]),
               "best_val_accuracy": float(best["val_accuracy"])}
    mlflow.log_metrics(numbers)
    return numbers


def logged_params(cfg: Config) -> dict:
    """The params the chosen model reads, as the run's params: a head on embeddings logs its
    own section and the embedder, a CNN the training knobs, the augmentation it trains on
    and the backbone it is built on; both the data set and how faces were cut."""
    t = cfg.train.model_dump(mode="json")
    data = {f"datasets.{STARS}.download": cfg.datasets[STARS].download.model_dump(mode="json"),
            "extract": {k: getattr(cfg.extract, k) for k in ("detector", "image_size",
                                                             "color_mode")}}
    if cfg.train.model == "embedding_head":
        return {"train": {k: t[k] for k in ("model", "seed", "embedding_head")},
                "faces.embedder": cfg.faces.embedder, **data}
    t.pop("embedding_head")
    for model in ("transfer", "finetune"):
        if cfg.train.model != model:
            t.pop(model)
    sections = {"train": t, **data}
    if cfg.train.use_augmented or cfg.train.online_augmentation:
        sections["augment"] = cfg.augment.model_dump(mode="json")
    if uses_backbone(cfg.train):
        sections["pretrain"] = cfg.pretrain.model_dump(mode="json")
    return sections


if __name__ == "__main__":
    run_stage(main)
