"""Open-set calibration: pick the "unknown" threshold on val, then measure the trade-off.

A closed-set softmax always names one of the known stars; thresholding a confidence score
turns low-confidence faces into `unknown`. The threshold is the lowest one whose precision
(share of named faces that are named right) reaches the target on the val split plus faces
of calibration people the model never saw (named at all = wrong), i.e. the one that keeps
the most known faces at that precision. Without unknown faces val precision is often above
the target already and nothing would be rejected. It is then judged on the test split and
on faces of other held-out people: known accuracy (a rejected known face counts as wrong)
against the share of unknown faces rejected.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

import matplotlib
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_auc_score

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from starrec.calibrate.rule import OpenSetRule, ScoreName, open_set_score  # noqa: E402
from starrec.io import atomic_path  # noqa: E402

log = logging.getLogger(__name__)
SCORES: tuple[str, ...] = get_args(ScoreName)


@dataclass(frozen=True)
class Calibration:
    rule: OpenSetRule
    precision: float  # on val, among faces scoring >= threshold
    coverage: float  # share of val faces kept (named)
    reached: bool  # False: target unreachable, threshold gives the best precision seen
    n: int
    n_unknown: int = 0
    unknown_rejected: float = float("nan")  # share of calibration unknowns under threshold

    def to_json(self) -> dict[str, Any]:
        return {"score": self.rule.score, "threshold": self.rule.threshold,
                "target_precision": self.rule.target_precision,
                "val": {"precision": self.precision, "coverage": self.coverage,
                        "target_reached": self.reached, "n_faces": self.n,
                        "n_unknown_faces": self.n_unknown,
                        "unknown_rejected": self.unknown_rejected}}


def calibrate(probs: np.ndarray, labels: np.ndarray, score: ScoreName,
              target_precision: float, unknown_probs: np.ndarray | None = None,
              unknown_prior: float = 0.5) -> Calibration:
    """Lowest threshold on `score` whose precision is >= the target, over the known faces
    (probs, labels) and `unknown_probs` (faces of people not trained on: named = wrong),
    the unknowns weighted to make up `unknown_prior` of all faces."""
    n_unknown = 0 if unknown_probs is None else len(unknown_probs)
    scores = open_set_score(probs, score)
    correct = probs.argmax(axis=1) == labels
    weight = np.ones(len(scores))
    if n_unknown:
        scores = np.r_[scores, open_set_score(unknown_probs, score)]
        correct = np.r_[correct, np.zeros(n_unknown, bool)]
        per_unknown = unknown_prior / (1 - unknown_prior) * len(weight) / n_unknown
        weight = np.r_[weight, np.full(n_unknown, per_unknown)]
    if correct.all() or not correct.any():
        # one-class curves are undefined; accept everything / keep the best-scored face only
        thr = float(scores.min() if correct.all() else scores.max())
        return _calibration(score, thr, target_precision, scores, correct, weight,
                            correct.all(), n_unknown)
    precision, _, thresholds = precision_recall_curve(correct, scores, sample_weight=weight)
    precision = precision[:-1]  # the last point (recall 0) has no threshold
    ok = np.flatnonzero(precision >= target_precision)
    reached = ok.size > 0
    idx = int(ok[0]) if reached else int(np.argmax(precision))
    if not reached:
        log.warning("open set: val precision never reaches %.3f with %s (best %.3f); using "
                    "the best threshold", target_precision, score, precision[idx])
    return _calibration(score, float(thresholds[idx]), target_precision, scores, correct,
                        weight, reached, n_unknown)


def _calibration(score: ScoreName, thr: float, target: float, scores: np.ndarray,
                 correct: np.ndarray, weight: np.ndarray, reached: bool, n_unknown: int
                 ) -> Calibration:
    """Coverage is over the known faces (the first len - n_unknown scores)."""
    kept = scores >= thr
    n_known = len(scores) - n_unknown
    precision = float(np.average(correct[kept], weights=weight[kept])) if kept.any() else 1.0
    rejected = float((~kept[n_known:]).mean()) if n_unknown else float("nan")
    return Calibration(OpenSetRule(score, thr, target), precision, float(kept[:n_known].mean()),
                       bool(reached), int(n_known), int(n_unknown), rejected)


def tradeoff(known_probs: np.ndarray, known_labels: np.ndarray, unknown_probs: np.ndarray,
             rule: OpenSetRule) -> dict[str, Any]:
    """Known accuracy vs unknown rejection at the rule's threshold, plus a table over
    thresholds (score quantiles) and per-score AUROC of known-vs-unknown."""
    correct = known_probs.argmax(axis=1) == known_labels
    ks = open_set_score(known_probs, rule.score)
    us = open_set_score(unknown_probs, rule.score) if len(unknown_probs) else np.empty(0)
    grid = np.unique(np.r_[np.quantile(np.r_[ks, us], np.linspace(0, 0.9, 10)), rule.threshold])
    auroc = {s: _auroc(open_set_score(known_probs, s), open_set_score(unknown_probs, s))
             for s in SCORES} if len(unknown_probs) else {}
    return {
        "score": rule.score,
        "threshold": rule.threshold,
        "closed_set_accuracy": float(correct.mean()),
        "at_threshold": _point(ks, correct, us, rule.threshold),
        "table": [_point(ks, correct, us, float(t)) for t in grid],
        "auroc_known_vs_unknown": auroc,
        "n_known": int(len(ks)),
        "n_unknown": int(len(us)),
    }


def _point(ks: np.ndarray, correct: np.ndarray, us: np.ndarray, t: float) -> dict[str, float]:
    named_right = int((correct & (ks >= t)).sum())
    named_known = int((ks >= t).sum())
    named = named_known + int((us >= t).sum())
    return {
        "threshold": t,
        "known_accuracy": named_right / len(ks),
        "known_rejected": float((ks < t).mean()),
        "unknown_rejected": float((us < t).mean()) if len(us) else float("nan"),
        "known_precision": named_right / named_known if named_known else 1.0,
        "precision": named_right / named if named else 1.0,  # with the unknowns named
    }


def _auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    y = np.r_[np.ones(len(known)), np.zeros(len(unknown))]
    return float(roc_auc_score(y, np.r_[known, unknown]))


def plot_tradeoff(known_probs: np.ndarray, known_labels: np.ndarray,
                  unknown_probs: np.ndarray, rule: OpenSetRule, out: Path) -> None:
    """Known accuracy against unknown rejection, one curve per score, chosen point marked."""
    correct = known_probs.argmax(axis=1) == known_labels
    fig, ax = plt.subplots(figsize=(6, 5))
    for s in SCORES:
        ks, us = open_set_score(known_probs, s), open_set_score(unknown_probs, s)
        grid = np.unique(np.r_[ks, us, -np.inf])
        pts = np.array([[(us < t).mean(), (correct & (ks >= t)).mean()] for t in grid])
        ax.plot(pts[:, 0], pts[:, 1], label=s, lw=2 if s == rule.score else 1)
    chosen = _point(open_set_score(known_probs, rule.score), correct,
                    open_set_score(unknown_probs, rule.score), rule.threshold)
    ax.plot(chosen["unknown_rejected"], chosen["known_accuracy"], "ko",
            label=f"{rule.score} ≥ {rule.threshold:.3f} (calibrated precision ≥ "
                  f"{rule.target_precision})")
    ax.set(xlabel="unknown faces rejected", ylabel="known faces named right",
           xlim=(0, 1.02), ylim=(0, 1.02),
           title=f"Open set: {len(known_probs)} known (test), {len(unknown_probs)} unknown faces")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def calibration_people(people: list[str], share: float, seed: int) -> set[str]:
    """A seeded `share` of the held-out people (at least one, and one left for the report)."""
    names = sorted(set(people))
    if share <= 0 or len(names) < 2:
        return set()
    n = min(max(1, round(share * len(names))), len(names) - 1)
    return {names[i] for i in np.random.default_rng(seed).permutation(len(names))[:n]}


def relabel(labels: np.ndarray, names: list[str], classes: list[str], where: Path) -> np.ndarray:
    """Label ids of a label map (`names`) as indices into a model's `classes`."""
    missing = set(names) - set(classes)
    if missing:
        raise ValueError(f"{where}: classes {sorted(missing)} are not in the model")
    order = {c: i for i, c in enumerate(classes)}
    return np.array([order[names[int(v)]] for v in labels], dtype=np.int64)
