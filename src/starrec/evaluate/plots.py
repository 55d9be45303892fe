"""Report figures (matplotlib, Agg) and the JSON rows `dvc plots show` renders.

Figure and font sizes scale with the number of classes so a 62-class confusion matrix stays
readable; every file is written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from starrec.io import atomic_path  # noqa: E402

LEARNING_CURVE_COLUMNS = ("epoch", "loss", "val_loss", "accuracy", "val_accuracy", "lr")


def _save(fig: plt.Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def plot_confusion(cm: np.ndarray, class_names: Sequence[str], path: Path, title: str) -> None:
    """Two panels, actual class along x and predicted along y (as `dvc plots show` draws
    DVC's confusion template): raw counts, and each actual class's column normalised (its
    recall on the diagonal). `cm` rows are actual classes, columns predicted."""
    n = len(class_names)
    side = max(5.0, 0.35 * n + 2.5)  # a cell stays ~0.35 in (25 pt) wide, labels fit
    font = float(np.clip(12 - n / 8, 7, 10))
    annotate = n <= 70
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    fig, axes = plt.subplots(1, 2, figsize=(2 * side + 2, side + 1), constrained_layout=True)
    for ax, data, label, fmt in ((axes[0], cm.T, "counts", "d"),
                                 (axes[1], norm.T, "share of each actual class", ".2f")):
        im = ax.imshow(data, cmap="Blues", vmin=0, vmax=1 if fmt == ".2f" else None)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(f"{title}: {label}", fontsize=font + 2)
        ax.set_xticks(range(n), class_names, rotation=90, fontsize=font)
        ax.set_yticks(range(n), class_names, fontsize=font)
        ax.set_xlabel("actual", fontsize=font + 1)
        ax.set_ylabel("predicted", fontsize=font + 1)
        if annotate:
            threshold = data.max() / 2 if data.max() else 1
            for i, j in np.ndindex(data.shape):
                if data[i, j]:
                    ax.text(j, i, format(data[i, j], fmt), ha="center", va="center",
                            fontsize=font - 1.5,
                            color="white" if data[i, j] > threshold else "black")
    _save(fig, path)


def plot_misclassified(images: np.ndarray, true_names: Sequence[str],
                       pred_names: Sequence[str], confidences: Sequence[float], path: Path,
                       title: str = "misclassified test faces") -> None:
    """Grid of faces labelled `true → predicted (confidence)`; a note if there are none."""
    count = len(images)
    cols = max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.5 * rows + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    if count == 0:
        axes[0, 0].text(0.5, 0.5, "no misclassified faces", ha="center", va="center")
    for ax, img, true, pred, conf in zip(axes.flat, images, true_names, pred_names,
                                         confidences):
        img = np.clip(img, 0, 1)
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{true}\n→ {pred} ({conf:.2f})", fontsize=7)
    fig.suptitle(title)
    _save(fig, path)


def confusion_rows(y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
                   ) -> list[dict[str, str]]:
    """One {"actual", "predicted"} row per test image, for DVC's `confusion` template."""
    return [{"actual": class_names[t], "predicted": class_names[p]}
            for t, p in zip(y_true.tolist(), y_pred.tolist())]


def learning_curve_rows(history_csv: Path) -> list[dict[str, Any]]:
    """Per-epoch rows from train's history.csv (the columns of LEARNING_CURVE_COLUMNS it has)."""
    history = pd.read_csv(history_csv)
    columns = [c for c in LEARNING_CURVE_COLUMNS if c in history.columns]
    return history[columns].to_dict(orient="records")
