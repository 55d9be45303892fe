"""The headline numbers: the dozen figures `dvc metrics show` and `dvc exp show` display,
taken from the detailed reports of evaluate (evaluation.json) and calibrate (open_set.json),
which keep the per-class tables and the gate's reason.

Every figure is on the test split. Names are grouped with `/` (as MLflow groups its charts)
and kept short, so one row of `dvc metrics show` fits a 200-column terminal: `acc` accuracy,
`f1` macro-F1; `prototype` nearest class mean of all train faces, `5shot` of 5 per star
(accuracy only: their F1 tracks it and stays in evaluation.json, so the row keeps room);
`open_set/named` the share of known faces named, `open_set/rejected` the share of unknown
faces rejected; `gate/promoted` 1 when the gate promoted the model, else 0; `degraded` the
model on the test faces degraded at `evaluate.robustness.severities`, the mean over those
severities (clean left out; each severity in reports/robustness.json).
"""

from __future__ import annotations

from typing import Any

DIGITS = 4  # enough to tell two runs apart, narrow enough for a terminal


def scores(group: str, metrics: dict[str, Any]) -> dict[str, float]:
    """`{group}/acc` and `{group}/f1` of one way of naming the test faces
    (classification_metrics' nested dict or a flat {accuracy, macro_f1})."""
    f1 = metrics["macro"]["f1"] if "macro" in metrics else metrics["macro_f1"]
    return {f"{group}/acc": float(metrics["accuracy"]), f"{group}/f1": float(f1)}


def headline(evaluation: dict[str, Any], open_set: dict[str, Any]) -> dict[str, float]:
    """Model, eigenfaces baseline and nearest-prototype methods (evaluate's `methods`,
    named `<embedder>_prototype[_<k>shot]`: grouped by their last word), the model's mean
    over the degraded severities (when evaluate measured it), open-set coverage
    on the test split and the gate's decision, rounded to DIGITS."""
    numbers = {**scores("model", evaluation["model"]),
               **scores("eigenfaces", evaluation["baseline"])}
    for method, metrics in evaluation.get("methods", {}).items():
        numbers[f"{method.rsplit('_', 1)[-1]}/acc"] = float(metrics["accuracy"])
    if "degraded" in evaluation:
        numbers.update(scores("degraded", evaluation["degraded"]["metrics"]))
    at = open_set["test"]["at_threshold"]
    numbers.update({"open_set/named": 1.0 - float(at["known_rejected"]),
                    "open_set/rejected": float(at["unknown_rejected"]),
                    "gate/promoted": float(evaluation["gate"]["promoted"])})
    return {name: round(value, DIGITS) for name, value in numbers.items()}
