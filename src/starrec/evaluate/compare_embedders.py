"""Embedders side by side on one split: nearest prototype, the Keras head, few-shot prototypes.

Each embedder's train and test embeddings (of the same faces) are scored by the same three
classifiers, so a row differs from another only by the embedder or the classifier:
- `prototype`: nearest class mean (cosine), every train face (what enrolment does);
- `prototype_{k}shot`: the same from `k` train faces per class, mean over `draws` draws
  (a star enrolled from a handful of photos);
- `head`: the embedding head (train/embedding_head.py) trained on the train faces.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from starrec.config import EmbeddingHeadParams
from starrec.faces.embed import prototypes
from starrec.io import atomic_path
from starrec.train.embedding_head import fit_embedding_head

Split = tuple[np.ndarray, np.ndarray]  # embeddings (N, D), class names (N,)
COLUMNS = ["embedder", "method", "metric", "value"]


def prototype_scores(x_train: np.ndarray, y_train: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(N, K) cosine of each face to each class prototype, classes 0..K-1 (all in train)."""
    return np.asarray(x, np.float32) @ prototypes(np.asarray(x_train, np.float32),
                                                  np.asarray(y_train))[1].T


def prototype_metrics(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                      y_test: np.ndarray, shots: int, draws: int, seed: int
                      ) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 of nearest prototype on the test faces (labels 0..K-1, each in
    train): `prototype` (all train faces) and `prototype_{shots}shot` (mean over `draws`
    seeded draws of `shots` train faces per class; a class with fewer uses all)."""
    y_train = np.asarray(y_train)
    n_classes = int(y_train.max()) + 1
    rng = np.random.default_rng(seed)
    few = []
    for _ in range(draws):
        pick = np.concatenate([rng.permutation(np.flatnonzero(y_train == k))[:shots]
                               for k in np.unique(y_train)])
        guess = prototype_scores(x_train[pick], y_train[pick], x_test).argmax(1)
        few.append(accuracy_and_f1(y_test, guess, n_classes))
    guess = prototype_scores(x_train, y_train, x_test).argmax(1)
    return {"prototype": accuracy_and_f1(y_test, guess, n_classes),
            f"prototype_{shots}shot": {m: float(np.mean([f[m] for f in few])) for m in few[0]}}


def compare_embedders(data: Mapping[str, tuple[Split, Split]], shots: int, draws: int,
                      seed: int, head: EmbeddingHeadParams) -> pd.DataFrame:
    """Tidy scores: one row per (embedder, method, metric) with metric `accuracy` or
    `macro_f1` on that embedder's test faces; every test class must be in train."""
    rows = []
    for name, ((x_train, names_train), (x_test, names_test)) in data.items():
        classes = sorted(set(names_train))
        unseen = sorted(map(str, set(names_test) - set(classes)))
        if unseen:
            raise ValueError(f"embedder {name}: test classes {unseen} have no train face")
        y_train = np.searchsorted(classes, names_train)
        y_test = np.searchsorted(classes, names_test)
        scores = prototype_metrics(x_train, y_train, x_test, y_test, shots, draws, seed)
        model, _ = fit_embedding_head(x_train, y_train, None, None, head, seed)
        scores["head"] = accuracy_and_f1(y_test, model.predict(x_test, verbose=0).argmax(1),
                                         len(classes))
        rows += [(name, method, metric, value) for method, m in scores.items()
                 for metric, value in m.items()]
    return pd.DataFrame(rows, columns=COLUMNS)


def accuracy_and_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, float]:
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, labels=np.arange(n_classes),
                                       average="macro", zero_division=0))}


def plot_comparison(df: pd.DataFrame, path: Path, title: str, baseline: str | None = None
                    ) -> None:
    """Bars per (embedder, method), accuracy and macro-F1 side by side; the `baseline`
    embedder's bars hatched and its best score per metric drawn as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wide = df.pivot_table(index=["embedder", "method"], columns="metric", values="value",
                          sort=False)
    metrics = [m for m in ("accuracy", "macro_f1") if m in wide.columns]
    labels = ["\n".join(textwrap.wrap(f"{e} {m}".replace("_", " "), 16)) for e, m in wide.index]
    pos = np.arange(len(wide))
    width = 0.8 / len(metrics)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(wide) + 1.5), 4.2))
    for i, (metric, colour) in enumerate(zip(metrics, ("tab:blue", "tab:orange"), strict=False)):
        bars = ax.bar(pos + (i - (len(metrics) - 1) / 2) * width, wide[metric], width,
                      label=metric.replace("_", "-"), color=colour)
        for bar, (embedder, _) in zip(bars, wide.index, strict=True):
            if embedder == baseline:
                bar.set_hatch("//")
                bar.set_alpha(0.6)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
        if baseline is not None and baseline in wide.index.get_level_values(0):
            ax.axhline(wide.loc[baseline, metric].max(), color=colour, ls="--", lw=1,
                       label=f"{baseline}: {metric.replace('_', '-')}")
    ax.set_xticks(pos, labels, fontsize=8)
    ax.set(ylim=(0, 1.08), ylabel="score on the test faces", title=title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
