"""The open-set rule: a face whose confidence score is below the threshold is `unknown`.

Calibrated by the calibrate stage (open_set.json), applied by prediction and serving.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

ScoreName = Literal["max_prob", "margin"]


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

    score: ScoreName
    threshold: float
    target_precision: float | None = None  # what the threshold was calibrated for, if it was

    def accept(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(accepted mask, scores) for a batch of class scores."""
        scores = open_set_score(probs, self.score)
        return scores >= self.threshold, scores

    @classmethod
    def from_json(cls, path: str | Path) -> OpenSetRule:
        data = json.loads(Path(path).read_text())
        return cls(score=data["score"], threshold=float(data["threshold"]),
                   target_precision=data.get("target_precision"))
