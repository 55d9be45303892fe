"""The evaluate stage: score the trained CNN and the eigenfaces baseline on the test split,
write the reports, log them to the training run and apply the promotion gate."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from starrec.config import EvaluateParams, MlflowParams
from starrec.dataset.tfrecords import list_shards, make_dataset, read_label_map
from starrec.evaluate.baseline import class_scores, fit_eigenfaces
from starrec.evaluate.gate import apply_gate
from starrec.evaluate.metrics import classification_metrics, confusion, flatten
from starrec.evaluate.plots import (
    confusion_rows,
    learning_curve_rows,
    plot_confusion,
    plot_misclassified,
)
from starrec.io import write_json_atomic
from starrec.stage import StageError
from starrec.tracking import connect, read_run_json

log = logging.getLogger(__name__)


def load_split(tfrecord_dir: Path, split: str, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """All images (N,H,W,C float32 [0,1]) and labels of one split, in shard order."""
    try:
        files = list_shards(tfrecord_dir, split)
        batches = [(x.numpy(), y.numpy())
                   for x, y in make_dataset(files, batch_size=batch_size, cache=False)]
    except (OSError, ValueError) as exc:  # no shards, or only empty ones
        raise StageError(f"{tfrecord_dir}: cannot read the {split} split ({exc})") from exc
    return (np.concatenate([b[0] for b in batches]),
            np.concatenate([b[1] for b in batches]).astype(np.int64))


def predict_probs(model_path: Path, images: np.ndarray, n_classes: int, batch_size: int
                  ) -> np.ndarray:
    if not model_path.is_file():
        raise StageError(f"{model_path}: model not found (run the train stage)")
    model = keras.saving.load_model(model_path, compile=False)
    probs = np.asarray(model.predict(images, batch_size=batch_size, verbose=0), np.float64)
    if probs.shape != (len(images), n_classes):
        raise StageError(f"{model_path}: outputs {probs.shape[1:]} scores per image but the "
                         f"label map has {n_classes} classes")
    return probs


REPORT_FILES = ("metrics.json", "confusion_matrix.png", "misclassified.png",
                "plots/confusion.json", "plots/learning_curve.json")


def write_reports(out_dir: Path, history_csv: Path, images: np.ndarray, y_true: np.ndarray,
                  probs: np.ndarray, class_names: list[str], max_gallery: int) -> None:
    """Confusion PNG, misclassified gallery and the DVC plots JSON, into `out_dir`."""
    y_pred = probs.argmax(axis=1)
    plot_confusion(confusion(y_true, y_pred, len(class_names)), class_names,
                   out_dir / "confusion_matrix.png", "CNN (test split)")
    wrong = np.flatnonzero(y_pred != y_true)
    shown = wrong[np.argsort(-probs[wrong, y_pred[wrong]], kind="stable")][:max_gallery]
    plot_misclassified(images[shown], [class_names[i] for i in y_true[shown]],
                       [class_names[i] for i in y_pred[shown]], probs[shown, y_pred[shown]],
                       out_dir / "misclassified.png",
                       f"misclassified test faces: {len(shown)} of {len(wrong)}, "
                       "most confident first")
    write_json_atomic(out_dir / "plots/confusion.json",
                      confusion_rows(y_true, y_pred, class_names))
    write_json_atomic(out_dir / "plots/learning_curve.json", learning_curve_rows(history_csv))


def _client(mlflow_cfg: MlflowParams, run: dict[str, Any]) -> MlflowClient:
    """Connect as the train stage did; the run is resumed where train logged it."""
    uri = connect(mlflow_cfg)
    if run.get("tracking_uri") and run["tracking_uri"] != uri:
        log.warning("run %s was logged to %s, not %s; logging there", run["run_id"],
                    run["tracking_uri"], uri)
        uri = run["tracking_uri"]
    return MlflowClient(uri)


def pretrained_metrics(backbone_path: Path, x_train: np.ndarray, y_train: np.ndarray,
                       x_test: np.ndarray, y_test: np.ndarray, class_names: list[str],
                       cfg: EvaluateParams) -> dict[str, dict[str, Any]]:
    """Test metrics of the pretrained backbone used three ways (logistic head, prototypes of
    all train photos, prototypes of `few_shot` photos per class), on the CNN's split."""
    from starrec.pretrain.compare import pretrained_scores

    if not backbone_path.is_file():
        raise StageError(f"{backbone_path}: backbone not found (run the pretrain stage, or set "
                         "evaluate.compare_pretrained: false)")
    scores = pretrained_scores(backbone_path, x_train, y_train, x_test, cfg.few_shot, cfg.seed)
    metrics = {}
    for method, s in scores.items():
        metrics[method] = classification_metrics(y_test, s.argmax(axis=1), s, class_names,
                                                 cfg.top_k)
        log.info("pretrained %s: accuracy %.4f, macro F1 %.4f", method,
                 metrics[method]["accuracy"], metrics[method]["macro"]["f1"])
    return metrics


def evaluate_model(cfg: EvaluateParams, mlflow_cfg: MlflowParams, tfrecord_dir: Path,
                   models_dir: Path, reports_dir: Path, backbone_path: Path | None = None
                   ) -> dict[str, Any]:
    """Writes reports/{metrics.json, confusion_matrix.png, misclassified.png, plots/*.json};
    returns the metrics.json content: {"model", "baseline", ["pretrained",] "gate"}.
    With `backbone_path`, the pretrained backbone's scores are reported beside the CNN's."""
    tfrecord_dir, models_dir, reports_dir = map(Path, (tfrecord_dir, models_dir, reports_dir))
    run = read_run_json(models_dir)
    if not (models_dir / "history.csv").is_file():
        raise StageError(f"{models_dir / 'history.csv'}: training history not found "
                         "(run the train stage)")
    try:
        class_names = read_label_map(tfrecord_dir)
    except (OSError, ValueError, KeyError) as exc:
        raise StageError(f"{tfrecord_dir}/label_map.json: cannot read ({exc!r})") from exc
    x_test, y_test = load_split(tfrecord_dir, "test", cfg.batch_size)
    probs = predict_probs(models_dir / "model.keras", x_test, len(class_names), cfg.batch_size)
    model_metrics = classification_metrics(y_test, probs.argmax(axis=1), probs, class_names,
                                           cfg.top_k)
    log.info("CNN on %d test faces: accuracy %.4f, macro F1 %.4f", len(y_test),
             model_metrics["accuracy"], model_metrics["macro"]["f1"])

    x_train, y_train = load_split(tfrecord_dir, "train", cfg.batch_size)
    baseline = fit_eigenfaces(x_train, y_train, cfg)
    scores = class_scores(baseline, x_test, len(class_names))
    baseline_metrics = classification_metrics(y_test, scores.argmax(axis=1), scores,
                                              class_names, cfg.top_k)
    baseline_metrics.update(
        cv_accuracy=baseline.cv_accuracy, pca_components=baseline.components)
    log.info("eigenfaces baseline: accuracy %.4f, macro F1 %.4f",
             baseline_metrics["accuracy"], baseline_metrics["macro"]["f1"])
    extra = {}
    if backbone_path is not None:
        extra["pretrained"] = pretrained_metrics(Path(backbone_path), x_train, y_train, x_test,
                                                 y_test, class_names, cfg)

    reports_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".evaluate.", dir=reports_dir) as tmp:
        staged = Path(tmp)  # all reports appear together, only once the run has them
        write_reports(staged, models_dir / "history.csv", x_test, y_test, probs, class_names,
                      cfg.misclassified_max)
        client = _client(mlflow_cfg, run)
        run_id = run["run_id"]
        try:
            report = _log_and_gate(client, run, cfg, mlflow_cfg.registered_model, model_metrics,
                                   baseline_metrics, baseline.best_params, staged, extra)
        except MlflowException as exc:
            raise StageError(f"{models_dir / 'run.json'}: MLflow run {run_id}: {exc}") from exc
        for name in REPORT_FILES:
            (reports_dir / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / name, reports_dir / name)
    log.info("%s: metrics, plots and gate decision written", reports_dir)
    return report


def _log_and_gate(client: MlflowClient, run: dict[str, Any], cfg: EvaluateParams,
                  default_model_name: str, model_metrics: dict[str, Any],
                  baseline_metrics: dict[str, Any], best_params: dict[str, Any], staged: Path,
                  extra: dict[str, Any]) -> dict[str, Any]:
    """Log metrics to the training run, apply the gate, write and log metrics.json + plots."""
    run_id = run["run_id"]
    numbers = {**flatten(model_metrics, "test_"), **flatten(baseline_metrics, "baseline_"),
               **flatten(extra)}
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, v, now, 0) for k, v in numbers.items()])
    client.set_tag(run_id, "baseline.best_params", json.dumps(best_params))
    version = run.get("model_version")
    gate = apply_gate(client, cfg.gate, run.get("registered_model") or default_model_name,
                      None if version is None else str(version), run_id,
                      flatten(model_metrics)[cfg.gate.metric],
                      flatten(baseline_metrics)[cfg.gate.metric])
    report = {"model": model_metrics, "baseline": baseline_metrics, **extra, "gate": gate}
    write_json_atomic(staged / "metrics.json", report)
    for name in REPORT_FILES:
        client.log_artifact(run_id, str(staged / name), Path("evaluate", name).parent.as_posix())
    return report
