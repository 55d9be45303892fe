"""Open-set calibration: pick the "unknown" threshold on val, then measure the trade-off.

A closed-set softmax always names one of the known stars; thresholding a confidence score
turns low-confidence faces into `unknown`. The threshold must reach the target precision
(share of named faces named right) over the val split plus faces of calibration people the
model never saw (named at all = wrong), the unknowns weighted to make up `unknown_prior` of
the faces seen. The lowest such threshold lets through as many strangers as the precision
budget allows (16-18 % of held-out LFW people's faces at prior 0.2 with SFace prototypes);
on good embeddings known and unknown scores are far apart, so higher thresholds name just as
many stars and reject more strangers. Among the thresholds reaching the target, this takes
the ones that maximise stars named right plus strangers rejected, in the middle of the widest
range of them (the largest margin on both sides). Per-star thresholds measured no better
(SFace prototypes, LFW-7 + 31 known people: one global threshold names 1.0 and rejects 1.0),
so there is one. It is then judged on the test split and on faces of other held-out people.

The record carries the id of the model it was calibrated for (the model file's sha256):
a threshold only means something for that model's scores (see rule.load_rule).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, get_args

import matplotlib
import numpy as np
from sklearn.metrics import roc_auc_score

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from starrec.calibrate.rule import OpenSetRule, ScoreName, open_set_score  # noqa: E402
from starrec.config import PredictParams  # noqa: E402
from starrec.io import atomic_path  # noqa: E402

log = logging.getLogger(__name__)
SCORES: tuple[str, ...] = get_args(ScoreName)


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


def calibrate_open_set(val: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray],
                       unknown: np.ndarray, people: list[str], params: PredictParams,
                       model_id: str) -> tuple[ThresholdRecord, dict[str, Any], np.ndarray]:
    """The threshold calibrated on the `val` split's (class scores, labels) plus a seeded
    share of the held-out `people` (their faces' class scores `unknown`), judged on `test`
    plus the other held-out people: (record, report, the unknown scores judged). With no
    held-out person to calibrate with, each star in turn plays the stranger
    (`leave_one_star_out`), with a warning."""
    u = params.unknown
    calib = calibration_people(people, u.calibration_share, u.seed)
    in_calib = np.array([person in calib for person in people], bool)
    impostors = "held-out people"
    calib_unknown, report_unknown = unknown[in_calib], unknown[~in_calib]
    if not in_calib.any():
        impostors = "leave-one-star-out"
        log.warning("%s: %d held-out people who are not stars (every other person there is "
                    "one), too few to calibrate the unknown threshold with and judge it; each "
                    "star in turn plays the stranger instead (leave-one-star-out: val "
                    "calibrates, test judges)", u.path, len(set(people)))
        calib_unknown, report_unknown = leave_one_star_out(*val), leave_one_star_out(*test)
    record = calibrate_threshold(*val, calib_unknown, params.target_precision, u.prior,
                                 model_id, params.score)
    report = {**record.to_json(), "test": tradeoff(*test, report_unknown, record.rule),
              "unknown_people": {"path": u.path, "impostors": impostors,
                                 "n_people": len(set(people)), "n_faces": len(people),
                                 "calibration_people": sorted(calib),
                                 "report_people": sorted(set(people) - calib)}}
    at = report["test"]["at_threshold"]
    log.info("test: known accuracy %.3f (closed set %.3f), known rejected %.3f, unknown "
             "rejected %.3f over %d faces of %d other held-out people", at["known_accuracy"],
             report["test"]["closed_set_accuracy"], at["known_rejected"],
             at["unknown_rejected"], len(report_unknown), len(set(people) - calib))
    return record, report, report_unknown


def leave_one_star_out(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Class scores (N, K) of known faces as if each face's own star were not known: its
    column zeroed, the others renormalised (the scores given that it is not that star). The
    impostors when no held-out person is left (every one of them is a star): each star in
    turn plays the stranger to the others."""
    out = np.array(probs, dtype=np.float64, copy=True)
    out[np.arange(len(out)), np.asarray(labels, dtype=np.int64)] = 0.0
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)


def relabel(labels: np.ndarray, names: list[str], classes: list[str], where: Path) -> np.ndarray:
    """Label ids of a label map (`names`) as indices into a model's `classes`."""
    missing = set(names) - set(classes)
    if missing:
        raise ValueError(f"{where}: classes {sorted(missing)} are not in the model")
    order = {c: i for i, c in enumerate(classes)}
    return np.array([order[names[int(v)]] for v in labels], dtype=np.int64)
