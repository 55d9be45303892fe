"""The open-set rule: a face whose confidence score is below the threshold is `unknown`.

Calibrated by the calibrate stage (open_set.json), applied by prediction and serving. The file
records the id of the model it was calibrated for: a threshold only means something for that
model's scores, and a stale one beside a retrained model silently turns every face into
`unknown` (or names strangers), so loading refuses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from starrec.faces.model_files import sha256_of

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


class ThresholdMismatch(ValueError):
    """The threshold was calibrated for another model (or for no recorded model)."""


def model_id_of(path: str | Path) -> str:
    """The id a threshold record keeps for a model file: its sha256."""
    return f"sha256:{sha256_of(Path(path))}"


def load_rule(rule_path: str | Path, model_path: str | Path) -> OpenSetRule:
    """The rule in `rule_path`, refused (ThresholdMismatch, one line naming both files and the
    fix) unless it was calibrated for the model file `model_path`."""
    rule_path, model_path = Path(rule_path), Path(model_path)
    recorded = json.loads(rule_path.read_text()).get("model_id")
    actual = model_id_of(model_path)
    if recorded != actual:
        raise ThresholdMismatch(f"{rule_path}: threshold calibrated for model "
                                f"{recorded or '(not recorded)'}, but {model_path} is {actual}; "
                                f"re-calibrate: dvc repro calibrate")
    return OpenSetRule.from_json(rule_path)
