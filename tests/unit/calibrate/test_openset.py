"""Open-set threshold calibration and trade-off figures on hand-made class scores."""

from __future__ import annotations

import numpy as np
import pytest

from starrec.calibrate.openset import calibrate_threshold, plot_tradeoff, tradeoff
from starrec.calibrate.rule import OpenSetRule, open_set_score


def test_scores() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    assert open_set_score(probs, "max_prob") == pytest.approx([0.7, 0.4])
    assert open_set_score(probs, "margin") == pytest.approx([0.5, 0.05])
    accepted, _ = OpenSetRule("max_prob", 0.5).accept(probs)
    assert accepted.tolist() == [True, False]


def known_and_unknown() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Known top scores 0.95, 0.9, 0.85 (wrong), 0.8; unknown faces 0.5 and 0.6."""
    top = np.array([0.95, 0.9, 0.85, 0.8])
    probs = np.stack([top, 1 - top], axis=1)
    labels = np.array([0, 0, 1, 0])
    unknown = np.array([[0.5, 0.5], [0.6, 0.4]])
    return probs, labels, unknown


def test_calibrate_takes_the_middle_of_the_best_feasible_range() -> None:
    probs, labels, unknown = known_and_unknown()
    # prior 0.5, so each unknown face weighs 2. >= 0.8: 3 right of 4 named + 0 unknowns
    # (0.75), names 0.75 of the stars and rejects every unknown: the best feasible gain; any
    # threshold in (0.6, 0.8] acts the same, so the middle of that gap is taken
    record = calibrate_threshold(probs, labels, unknown, 0.7, 0.5, "sha256:m")
    assert record.threshold == pytest.approx(0.7) and record.reached
    assert record.precision == pytest.approx(0.75) and record.known_named == pytest.approx(0.75)
    assert record.unknown_rejected == 1.0 and (record.n_known, record.n_unknown) == (4, 2)
    # 0.9 precision: only >= 0.9 (2 of 2 right) reaches it; the gap above 0.85 is halved
    strict = calibrate_threshold(probs, labels, unknown, 0.9, 0.5, "sha256:m")
    assert strict.threshold == pytest.approx(0.875) and strict.precision == 1.0
    assert strict.known_named == 0.5 and strict.rule == OpenSetRule("max_prob", 0.875, 0.9)
    assert strict.to_json()["model_id"] == "sha256:m"


def test_calibrate_counts_named_unknown_faces_as_wrong_by_their_prior() -> None:
    probs, labels, _ = known_and_unknown()
    unknown = np.array([[0.92, 0.08]])  # one stranger scoring above most stars
    # prior 0.5: the stranger weighs 4; >= 0.8 gives 3 / (4 + 4) < 0.9, only >= 0.95 is
    # precise enough (1 / 1)
    assert calibrate_threshold(probs, labels, unknown, 0.9, 0.5, "x").known_named == 0.25
    # prior 0.05: it weighs 4/19, so >= 0.8 (3 / (4 + 4/19) = 0.71) reaches 0.7 too, but
    # names 0.75 and rejects nobody (gain 0.75); above the stranger (0.92, 0.95]: 0.25 + 1
    rare = calibrate_threshold(probs, labels, unknown, 0.7, 0.05, "x")
    assert rare.threshold == pytest.approx(0.935) and rare.unknown_rejected == 1.0
    # the target above 0.71 with prior 0.05 leaves only that range as well
    assert calibrate_threshold(probs, labels, unknown, 0.72, 0.05, "x").threshold == \
        pytest.approx(0.935)


def test_calibrate_unreachable_target_uses_best_precision() -> None:
    probs = np.array([[0.9, 0.1], [0.8, 0.2]])
    labels = np.array([1, 0])  # the most confident face is wrong
    record = calibrate_threshold(probs, labels, np.array([[0.95, 0.05]]), 0.99, 0.5, "x")
    assert not record.reached and record.threshold == pytest.approx(0.8)
    with pytest.raises(ValueError, match="no unknown faces"):
        calibrate_threshold(probs, labels, np.empty((0, 2)), 0.9, 0.5, "x")


def test_tradeoff_and_plot(tmp_path) -> None:
    known = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.55, 0.45]])
    labels = np.array([0, 0, 1, 1])
    unknown = np.array([[0.6, 0.4], [0.52, 0.48], [0.95, 0.05]])
    rule = OpenSetRule("max_prob", 0.65, 0.9)
    rep = tradeoff(known, labels, unknown, rule)
    at = rep["at_threshold"]
    assert rep["closed_set_accuracy"] == 0.75
    assert at["known_accuracy"] == 0.75  # the wrong 0.55 face is rejected, the rest kept
    assert at["unknown_rejected"] == pytest.approx(2 / 3)
    assert at["precision"] == pytest.approx(3 / 4)  # 3 right of 4 named (one unknown named)
    assert 0 < rep["auroc_known_vs_unknown"]["max_prob"] < 1
    plot_tradeoff(known, labels, unknown, rule, tmp_path / "o.png")
    assert (tmp_path / "o.png").read_bytes()[:4] == b"\x89PNG"
