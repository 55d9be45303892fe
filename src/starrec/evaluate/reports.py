"""The evaluate stage's pieces: the CNN's class scores, the report files (confusion and
misclassified PNGs, DVC plot rows) and what goes to the training run in MLflow."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from starrec.artifacts import EVALUATION
from starrec.errors import StageError
from starrec.evaluate.metrics import confusion, metric_values
from starrec.evaluate.plots import (
    confusion_rows,
    learning_curve_rows,
    plot_confusion,
    plot_misclassified,
)
from starrec.io import write_json_atomic

REPORT_FILES = (EVALUATION, "confusion_matrix.png", "misclassified.png",
                "plots/confusion.json", "plots/learning_curve.json")


def load_model(path: Path) -> keras.Model:
    if not path.is_file():
        raise StageError(f"{path}: model not found (run the train stage)")
    return keras.saving.load_model(path, compile=False)


def predict_probs(model: keras.Model, images: np.ndarray, n_classes: int, batch_size: int,
                  where: Path) -> np.ndarray:
    """(N, n_classes) float64 class probabilities; `where` names the model in errors."""
    probs = np.asarray(model.predict(images, batch_size=batch_size, verbose=0), np.float64)
    if probs.shape != (len(images), n_classes):
        raise StageError(f"{where}: outputs {probs.shape[1:]} scores per image but the "
                         f"label map has {n_classes} classes")
    return probs


def write_reports(out_dir: Path, history_csv: Path, images: np.ndarray, y_true: np.ndarray,
                  probs: np.ndarray, class_names: list[str], max_gallery: int) -> None:
    """Confusion PNG, misclassified gallery and the DVC plots JSON, into `out_dir`."""
    y_pred = probs.argmax(axis=1)
    plot_confusion(confusion(y_true, y_pred, len(class_names)), class_names,
                   out_dir / "confusion_matrix.png", "test split")
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


def run_metrics(group: str, metrics: dict[str, Any]) -> dict[str, float]:
    """`{group}/test/<name>` of the summary figures; per-class ones go to a table, counts
    and settings (n_samples, top_k, pca_components) stay in evaluation.json, and micro
    averages are the accuracy again (one label per face)."""
    return {f"{group}/test/{k}": v for k, v in metric_values(metrics).items()
            if not k.startswith(("per_class", "micro", "n_samples", "top_k", "pca"))
            or k == "top_k_accuracy"}


def per_class_table(reports: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per (model, class): precision, recall, F1, IoU, support."""
    return pd.DataFrame([{"model": name, "class": cls, **row} for name, m in reports.items()
                         for cls, row in m["per_class"].items()])


def log_evaluation(client: MlflowClient, run: dict[str, Any], numbers: dict[str, float],
                   per_class: pd.DataFrame, best_params: dict[str, Any], reports: Path) -> None:
    """Metrics (linked to the run's logged model), the per-class table, the baseline's best
    params and the report files, to the training run."""
    now, run_id = int(time.time() * 1000), run["run_id"]
    client.log_batch(run_id, metrics=[Metric(k, v, now, 0, model_id=run.get("model_id"))
                                      for k, v in numbers.items()])
    client.log_table(run_id, per_class, "evaluate/per_class.json")
    client.set_tag(run_id, "baseline.best_params", json.dumps(best_params))
    for name in REPORT_FILES:
        client.log_artifact(run_id, str(reports / name), Path("evaluate", name).parent.as_posix())
