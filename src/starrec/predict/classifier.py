"""What a face classifier must offer the predictor, the open-set rule and the server.

One small protocol so the softmax Keras model (train stage) and a few-shot prototype
classifier (pretrain/enrol) plug into the same prediction, calibration and serving code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from starrec.config import ExtractParams

UNKNOWN = "unknown"
ScoreName = Literal["max_prob", "margin"]


@runtime_checkable
class Classifier(Protocol):
    """Face crops in, one score per class out.

    `predict_proba(images)`: images float32 in [0, 1], shape (N, image_size, image_size,
    channels), exactly as the TFRecord reader yields them; returns (N, len(classes)) float32,
    higher = more likely (softmax probabilities, or e.g. cosine similarities to prototypes).
    `extract`: the face-detection/cropping params the classifier was trained with, so
    prediction crops faces the same way.
    """

    classes: list[str]
    image_size: int
    channels: int
    extract: ExtractParams

    def predict_proba(self, images: np.ndarray) -> np.ndarray: ...


def open_set_score(probs: np.ndarray, score: ScoreName) -> np.ndarray:
    """Confidence that a face is one of the known classes; low = likely unknown.

    `max_prob`: the top class score. `margin`: top-1 minus top-2, which also drops faces
    that sit between two known people (the usual confusions of a closed-set softmax).
    """
    probs = np.asarray(probs, dtype=np.float64)
    if score == "max_prob":
        return probs.max(axis=1)
    if score == "margin":
        if probs.shape[1] == 1:
            return probs[:, 0]
        top2 = np.sort(probs, axis=1)[:, -2:]
        return top2[:, 1] - top2[:, 0]
    raise ValueError(f"unknown open-set score {score!r} (max_prob | margin)")


@dataclass(frozen=True)
class OpenSetRule:
    """A face whose `score` is below `threshold` is `unknown` (threshold 0 = closed set)."""

    score: ScoreName = "max_prob"
    threshold: float = 0.0
    target_precision: float | None = None

    def accept(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(accepted mask, scores) for a batch of class scores."""
        scores = open_set_score(probs, self.score)
        return scores >= self.threshold, scores

    @classmethod
    def from_json(cls, path: str | Path) -> OpenSetRule:
        data = json.loads(Path(path).read_text())
        return cls(score=data["score"], threshold=float(data["threshold"]),
                   target_precision=data.get("target_precision"))
