"""Classification metrics from scikit-learn, shaped as a plain dict for metrics.json.

The dict nests only dicts and numbers, so `dvc metrics show` and MLflow (after
`metric_values`) take it as is; e.g. `metric_values(m)["macro_f1"]` is the macro-averaged F1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    jaccard_score,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from starrec.flat import flatten

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-/ ]")  # characters MLflow refuses in metric names


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, y_score: np.ndarray, class_names: Sequence[str],
    top_k: int,
) -> dict[str, Any]:
    """Accuracy, top-k accuracy, per-class and macro/micro precision, recall, F1 and IoU.

    `y_score` is (n_samples, n_classes): probabilities or any per-class score that ranks
    classes (e.g. an SVM's decision function). `top_k` is capped at n_classes - 1 (beyond
    that the score is trivially 1); the k used is reported as `top_k`.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = np.arange(len(class_names))
    k = max(1, min(top_k, len(class_names) - 1))
    scores = np.asarray(y_score, dtype=np.float64)
    if len(class_names) == 2:  # sklearn's binary case: P(positive) ranks, 0.5 threshold
        scores = expit(scores[:, 1] - scores[:, 0])
    prec, rec, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0)
    iou = jaccard_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    out: dict[str, Any] = {
        "n_samples": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "top_k": k,
        "top_k_accuracy": float(top_k_accuracy_score(y_true, scores, k=k, labels=labels)),
    }
    for average in ("macro", "micro"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0)
        j = jaccard_score(y_true, y_pred, labels=labels, average=average, zero_division=0)
        out[average] = {"precision": float(p), "recall": float(r), "f1": float(f),
                        "iou": float(j)}
    out["per_class"] = {
        name: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]),
               "iou": float(iou[i]), "support": int(support[i])}
        for i, name in enumerate(class_names)
    }
    return out


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts, rows = actual class, columns = predicted class, every class present."""
    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


def metric_values(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested metrics dict → flat `{"macro_f1": ...}` of its numbers; names made MLflow-safe."""
    return {_UNSAFE.sub("_", key): float(value)
            for key, value in flatten(metrics, "_", prefix.rstrip("_")).items()
            if isinstance(value, (int, float, np.number)) and not isinstance(value, bool)}
