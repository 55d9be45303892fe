"""The one training loop (train and pretrain): per-epoch LR schedule, early stopping, class
weights, resumable checkpoints and a one-line-per-epoch progress log (also sent to MLflow
when a run is active)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import mlflow
import pandas as pd

from starrec.config import TrainParams
from starrec.train.data import TrainData
from starrec.train.optimizers import make_optimizer
from starrec.train.report import read_epoch_log
from starrec.train.schedules import lr_at

log = logging.getLogger(__name__)
EPOCH_LOG = "epochs.csv"
FINGERPRINT = "fingerprint"  # in the checkpoint dir: what the checkpoints were made for


def compile_model(model: keras.Model, cfg: TrainParams) -> None:
    opt = cfg.optimizer
    model.compile(optimizer=make_optimizer(opt.name, opt.learning_rate, opt.momentum),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])


class EpochLog(keras.callbacks.Callback):
    """Progress: one log line per epoch; metrics to the active MLflow run, step = epoch
    numbered from 1 (as history.csv)."""

    def __init__(self, epochs: int):
        super().__init__()
        self.epochs = epochs
        self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        metrics = {("lr" if k == "learning_rate" else k): float(v) for k, v in (logs or {}).items()}
        log.info("epoch %d/%d  %s  (%.1f s)", epoch + 1, self.epochs,
                 "  ".join(f"{k} {v:.4g}" for k, v in metrics.items()),
                 time.perf_counter() - self.start)
        if mlflow.active_run() is not None:
            mlflow.log_metrics(metrics, step=epoch + 1)


def fingerprint(model: keras.Model, params: Any, data: Any) -> str:
    """What a checkpoint must match to be resumed: architecture, params and data."""
    key = {"model": json.loads(model.to_json())["config"], "params": params, "data": data}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def run_fingerprint(model: keras.Model, cfg: TrainParams, data: TrainData) -> str:
    return fingerprint(model, cfg.model_dump(mode="json"),
                       {"classes": data.classes, "sizes": data.sizes})


def discard_stale_checkpoints(checkpoint_dir: Path, fingerprint: str) -> None:
    """Keep `checkpoint_dir` only if a killed run of this same model, params and data left
    it; otherwise (params or code changed since) start fresh instead of failing to load."""
    checkpoint_dir = Path(checkpoint_dir)
    mark = checkpoint_dir / FINGERPRINT
    if checkpoint_dir.exists() and not (mark.is_file() and mark.read_text() == fingerprint):
        log.warning("%s: checkpoints of an interrupted run with other params, model or data; "
                    "discarded, training from the start", checkpoint_dir)
        shutil.rmtree(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    mark.write_text(fingerprint)


def fit(model: keras.Model, train: Any, *, epochs: int, lr: Callable[[int], float],
        checkpoint_dir: Path, run_key: str, val: Any = None, patience: int | None = None,
        class_weight: dict[int, float] | None = None,
        callbacks: Sequence[keras.callbacks.Callback] = ()) -> pd.DataFrame:
    """Fit a compiled model for `epochs` with learning rate `lr(epoch)`, resuming from
    `checkpoint_dir` if a killed run with the same `run_key` (see `fingerprint`) left one
    there; with `val` and `patience`, stop early and restore the best-val-loss weights.
    Deletes the checkpoints and returns the per-epoch history (epoch, loss, accuracy[,
    val_loss, val_accuracy], lr). `callbacks` run after the built-in ones."""
    checkpoint_dir = Path(checkpoint_dir)
    discard_stale_checkpoints(checkpoint_dir, run_key)
    if (checkpoint_dir / EPOCH_LOG).is_file():
        log.info("%s: resuming an interrupted run", checkpoint_dir)
    builtin = [keras.callbacks.LearningRateScheduler(lambda epoch, _lr: lr(epoch))]
    if val is not None and patience is not None:
        builtin.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                                     restore_best_weights=True))
    builtin += [keras.callbacks.CSVLogger(str(checkpoint_dir / EPOCH_LOG), append=True),
                EpochLog(epochs),
                keras.callbacks.BackupAndRestore(str(checkpoint_dir / "backup")),
                *callbacks]
    model.fit(train, validation_data=val, epochs=epochs, verbose=0, class_weight=class_weight,
              callbacks=builtin)
    history = read_epoch_log(checkpoint_dir / EPOCH_LOG)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return history


def fit_model(model: keras.Model, cfg: TrainParams, data: TrainData, checkpoint_dir: Path,
              callbacks: Sequence[keras.callbacks.Callback] = ()) -> pd.DataFrame:
    """`fit` with the train stage's schedule, early stopping and class weights."""
    return fit(model, data.train, epochs=cfg.epochs, val=data.val,
               lr=lambda epoch: lr_at(cfg.schedule, cfg.optimizer.learning_rate, epoch, cfg.epochs),
               checkpoint_dir=checkpoint_dir, run_key=run_fingerprint(model, cfg, data),
               patience=cfg.early_stopping_patience, class_weight=data.class_weight,
               callbacks=callbacks)
