"""Robustness: every way of naming the test faces scored on clean crops and on the same crops
degraded at fixed named severities (faces/degrade.py: px24, px16, blur, jpeg20, occluded,
combined), side by side, so "the model is robust" is a measured difference, not a hope.

The degraded copies are seeded (the same seed gives the same bytes; their sha256 goes in the
report). A model on embeddings sees each copy re-embedded by its own frozen embedder. Beside
the model stand nearest prototype (train-split class means of the same embedder), eigenfaces
(fitted on clean train crops) and the fair baseline `<embedder>_head_augmented`: the same
head retrained on the train embeddings plus those of seeded randomly degraded copies of the
train crops (`augment_batch`). A model that only beats the clean baseline on degraded faces
has learnt nothing augmentation alone would not give.

`degraded` — the headline and the gate's second score — is the mean over the degraded
severities (clean left out): one number that moves when any severity does, where the worst
severity would be the occluded mask for every model and hide the rest.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from starrec.config import DegradeParams, EmbeddingHeadParams
from starrec.evaluate.gate import GATE_METRICS
from starrec.evaluate.metrics import classification_metrics, metric_values
from starrec.faces.degrade import augment_batch, degrade
from starrec.io import atomic_path
from starrec.train.embedding_head import fit_embedding_head

if TYPE_CHECKING:
    import keras

CLEAN = "clean"
REPORTED = ("accuracy", "macro_f1")  # per model and severity in robustness.json
MIN_COSINE = 0.999  # a TFRecord crop re-embedded against its embed-stage vector


@dataclass(frozen=True)
class View:
    """The test faces at one severity: images as the model and eigenfaces take them (float32
    [0, 1], load_split's layout), and their embeddings (None: no embedder)."""

    images: np.ndarray
    embeddings: np.ndarray | None


Namer = Callable[[View], np.ndarray]  # a view -> (N, K) class scores


def to_crops(images: np.ndarray) -> np.ndarray:
    """load_split's float32 [0, 1] images -> the uint8 RGB crops degrade.py takes (a gray
    image repeated in three channels)."""
    crops = np.rint(np.clip(np.asarray(images), 0.0, 1.0) * 255.0).astype(np.uint8)
    return np.repeat(crops, 3, axis=-1) if crops.shape[-1] == 1 else crops


def to_images(crops: np.ndarray, channels: int) -> np.ndarray:
    """uint8 RGB crops -> float32 [0, 1] with `channels` channels (1: the channels' mean)."""
    x = crops.astype(np.float32)
    return (x.mean(axis=-1, keepdims=True) if channels == 1 else x) / 255.0


def degraded_copies(crops: np.ndarray, severities: Sequence[str], seed: int
                    ) -> dict[str, np.ndarray]:
    """{clean: the crops, severity: the crops degraded at it}, each severity seeded by `seed`."""
    return {CLEAN: crops, **{s: degrade(crops, s, seed) for s in severities}}


def sha256_of(crops: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(crops).tobytes()).hexdigest()


def check_embedded(recorded: np.ndarray, fresh: np.ndarray, face_ids: np.ndarray, where: Path
                   ) -> None:
    """ValueError naming `where` unless each crop embedded now matches its recorded vector:
    the crops and the embeddings must be of the same faces for clean and degraded scores to
    be comparable."""
    if recorded.shape != fresh.shape:
        raise ValueError(f"{where}: {len(recorded)} embeddings for {len(fresh)} test crops")
    cosine = np.sum(recorded * fresh, axis=1)
    bad = np.flatnonzero(cosine < MIN_COSINE)
    if len(bad):
        face = str(face_ids[bad[0]])
        raise ValueError(f"{where}: face {face!r} has another embedding than its TFRecord "
                         f"crop (cosine {cosine[bad[0]]:.3f}, {len(bad)} faces); re-run the "
                         "embed stage")


def augmented_train_set(crops: np.ndarray, x: np.ndarray, y: np.ndarray, copies: int,
                        embed: Callable[[np.ndarray], np.ndarray], cfg: DegradeParams,
                        seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The fair baseline's training set: the train embeddings `x` (labels `y`) plus those of
    `copies` seeded random degradations of each train crop."""
    rng = np.random.default_rng(seed)
    extra = [embed(augment_batch(crops, rng, cfg)) for _ in range(copies)]
    return np.concatenate([x, *extra]), np.tile(np.asarray(y), copies + 1)


def fair_head(crops: np.ndarray, x: np.ndarray, y: np.ndarray, copies: int,
              embed: Callable[[np.ndarray], np.ndarray], degrade_cfg: DegradeParams,
              head_cfg: EmbeddingHeadParams, seed: int) -> keras.Model:
    """The embedding head (same params, same seed) trained on `augmented_train_set`."""
    x_aug, y_aug = augmented_train_set(crops, x, y, copies, embed, degrade_cfg, seed)
    return fit_embedding_head(x_aug, y_aug, None, None, head_cfg, seed)[0]


def views(copies: Mapping[str, np.ndarray], channels: int,
          embed: Callable[[np.ndarray], np.ndarray] | None = None,
          clean: np.ndarray | None = None) -> dict[str, View]:
    """Each copy as a View; with `embed`, each degraded copy embedded by it and clean given
    the recorded vectors `clean` (the embed stage's, which the model was scored on)."""
    return {s: View(to_images(c, channels), None if embed is None else
                    clean if s == CLEAN else embed(c)) for s, c in copies.items()}


def measure(views: Mapping[str, View], y: np.ndarray, classes: list[str], top_k: int,
            namers: Mapping[str, Namer]) -> dict[str, dict[str, dict[str, float]]]:
    """{namer: {severity: the gate's metrics}} of every namer on every view."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, namer in namers.items():
        out[name] = {}
        for severity, view in views.items():
            scores = namer(view)
            values = metric_values(classification_metrics(y, scores.argmax(axis=1), scores,
                                                           classes, top_k))
            out[name][severity] = {m: values[m] for m in GATE_METRICS}
    return out


def degraded_mean(by_severity: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Each metric's mean over the degraded severities (clean left out)."""
    worse = [m for s, m in by_severity.items() if s != CLEAN]
    return {k: float(np.mean([m[k] for m in worse])) for k in worse[0]}


def report(scores: Mapping[str, Mapping[str, Mapping[str, float]]], n_faces: int, seed: int,
           copies: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """robustness.json: accuracy and macro-F1 per model per severity, their degraded mean,
    the number of faces, and the seed and sha256 of each copy (same seed, same bytes)."""
    def keep(m: Mapping[str, float]) -> dict[str, float]:
        return {k: m[k] for k in REPORTED}

    return {"n_faces": n_faces, "seed": seed, "severities": list(copies),
            "degraded": "mean over the severities other than clean",
            "crops_sha256": {s: sha256_of(c) for s, c in copies.items()},
            "scores": {name: {s: keep(m) for s, m in by.items()} for name, by in scores.items()},
            "degraded_mean": {name: keep(degraded_mean(by)) for name, by in scores.items()}}


def plot_robustness(rob: Mapping[str, Any], path: Path, title: str, baseline: str) -> None:
    """Accuracy (top) and macro-F1 (bottom): a group of bars per severity, one bar per model;
    the `baseline` hatched."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    severities, names = rob["severities"], list(rob["scores"])
    pos = np.arange(len(severities))
    width = 0.8 / len(names)
    fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 1.3 * len(severities) + 2), 6.5),
                             sharex=True)
    for ax, metric in zip(axes, REPORTED, strict=True):
        for i, name in enumerate(names):
            values = [rob["scores"][name][s][metric] for s in severities]
            bars = ax.bar(pos + (i - (len(names) - 1) / 2) * width, values, width,
                          label="\n".join(textwrap.wrap(name.replace("_", " "), 24)),
                          color=f"C{i}", hatch="//" if name == baseline else None,
                          alpha=0.6 if name == baseline else 1.0)
            ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
        ax.set(ylim=(0, 1.1), ylabel=metric.replace("_", "-"))
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title(title, fontsize=10)
    axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[1].set_xticks(pos, severities)
    axes[1].set_xlabel("test faces: clean, then degraded (faces/degrade.py)")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
