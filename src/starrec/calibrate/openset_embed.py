"""The `unknown` threshold for a classifier on face embeddings, tied to the model it was set for.

Like `openset.calibrate`, the threshold must reach the target precision over known faces
plus faces of people never trained on (named at all = wrong), the unknowns weighted to make up
`unknown_prior` of the faces seen. `calibrate` then takes the *lowest* such threshold, which
lets through as many unknown faces as the precision budget allows (16-18 % of held-out LFW
people's faces at prior 0.2 with SFace prototypes). On embeddings, known and unknown scores are far
apart, so higher thresholds name just as many stars and reject more unknowns: among the
thresholds reaching the target, this takes the one that maximises stars named right plus
unknowns rejected, in the middle of the widest range of such thresholds (the largest margin
on both sides). Per-star thresholds were measured no better (SFace prototypes, LFW-7 and 31
known people: 0.98-1.0 of the stars named, 0.98-1.0 of unknowns rejected; one global
threshold: 1.0 and 1.0), so there is one.

The record carries the id of the model it was calibrated for (the model file's sha256 or a
registry version): a threshold is only meaningful for the scores of that model, and a stale one
beside a retrained model silently turns faces into `unknown` (or names strangers).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from starrec.calibrate.rule import (
    OpenSetRule,
    ScoreName,
    ThresholdMismatch,
    model_id_of,
    open_set_score,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThresholdRecord:
    model_id: str  # what the threshold was calibrated for: `sha256:<hex>` of the model file
    score: ScoreName  # open-set score of the model's class scores (max_prob = top score)
    threshold: float  # a face scoring below it is `unknown`
    target_precision: float
    unknown_prior: float
    # on the calibration faces, at the threshold
    precision: float  # share of named faces named right, unknowns weighted by the prior
    known_named: float  # share of known faces named, and named right
    unknown_rejected: float  # share of unknown faces under the threshold
    reached: bool  # False: no threshold reaches the target; the most precise one is used
    n_known: int
    n_unknown: int

    @property
    def rule(self) -> OpenSetRule:
        return OpenSetRule(self.score, self.threshold, self.target_precision)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ThresholdRecord:
        if not data.get("model_id"):
            raise ThresholdMismatch("open-set threshold has no model_id (calibrated before "
                                    "thresholds recorded their model); re-run calibrate")
        return cls(**data)


def check_threshold_matches(record: ThresholdRecord, model_id: str) -> None:
    """Raise ThresholdMismatch unless `record` was calibrated for `model_id`."""
    if record.model_id != model_id:
        raise ThresholdMismatch(f"open-set threshold was calibrated for model {record.model_id}, "
                                f"not this one ({model_id}); re-run calibrate for this model")


def calibrate_threshold(known_scores: np.ndarray, known_labels: np.ndarray,
                        unknown_scores: np.ndarray, target_precision: float,
                        unknown_prior: float, model_id: str, score: ScoreName = "max_prob"
                        ) -> ThresholdRecord:
    """The threshold on `score` of the class scores (N, K) of known faces (true labels
    0..K-1) and of unknown people's faces (M, K): see the module docstring."""
    if not len(unknown_scores):
        raise ValueError("open set: no unknown faces to calibrate with (the threshold would "
                         "reject nobody)")
    ks, us = open_set_score(known_scores, score), open_set_score(unknown_scores, score)
    correct = np.asarray(known_scores).argmax(axis=1) == np.asarray(known_labels)
    values = np.unique(np.r_[ks, us])  # threshold t names the faces scoring >= t

    def at_least(sorted_scores: np.ndarray) -> np.ndarray:
        return len(sorted_scores) - np.searchsorted(sorted_scores, values, side="left")

    right = at_least(np.sort(ks[correct]))
    named, strangers = at_least(np.sort(ks)), at_least(np.sort(us))
    weight = unknown_prior / (1 - unknown_prior) * len(ks) / len(us)
    denominator = named + weight * strangers
    precision = np.divide(right, denominator, out=np.ones(len(values)), where=denominator > 0)
    known_named, rejected = right / len(ks), 1 - strangers / len(us)
    feasible = precision >= target_precision
    if feasible.any():
        gain = known_named + rejected
        best = np.flatnonzero(feasible & (gain >= gain[feasible].max() - 1e-12))
        # any t in (values[lo - 1], values[hi]] of a run lo..hi of best values is as good
        runs = np.split(best, np.flatnonzero(np.diff(best) > 1) + 1)
        run = max(runs, key=lambda r: values[r[-1]] - values[r[0] - 1] if r[0] else 0.0)
        lo, hi = run[0], run[-1]
        threshold = float((values[lo - 1] + values[hi]) / 2 if lo else values[0])
        i = int(np.searchsorted(values, threshold, side="left"))  # the value it acts as
    else:
        i = int(np.argmax(precision))
        threshold = float(values[i])
        log.warning("open set: precision never reaches %.3f with %s (best %.3f); using the "
                    "most precise threshold", target_precision, score, precision[i])
    record = ThresholdRecord(model_id, score, float(threshold), target_precision, unknown_prior,
                             float(precision[i]), float(known_named[i]), float(rejected[i]),
                             bool(feasible.any()), len(ks), len(us))
    log.info("open set: %s >= %.4f names %.3f of %d known faces right, rejects %.3f of %d "
             "unknown faces, precision %.3f (target %.2f, prior %.2f)", score, threshold,
             record.known_named, len(ks), record.unknown_rejected, len(us), record.precision,
             target_precision, unknown_prior)
    return record
