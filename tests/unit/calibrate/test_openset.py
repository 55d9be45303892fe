"""Open-set threshold calibration and trade-off figures on hand-made class scores."""

from __future__ import annotations

import numpy as np
import pytest

from starrec.calibrate.openset import calibrate, plot_tradeoff, tradeoff
from starrec.calibrate.rule import OpenSetRule, open_set_score


def test_scores() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    assert open_set_score(probs, "max_prob") == pytest.approx([0.7, 0.4])
    assert open_set_score(probs, "margin") == pytest.approx([0.5, 0.05])
    accepted, _ = OpenSetRule("max_prob", 0.5).accept(probs)
    assert accepted.tolist() == [True, False]


def test_calibrate_picks_lowest_threshold_reaching_target() -> None:
    # 10 faces: top scores right, the low-confidence ones partly wrong
    top = np.array([0.99, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.45, 0.4])
    right = np.array([1, 1, 1, 1, 1, 1, 0, 1, 0, 0], bool)
    probs = np.stack([top, (1 - top) / 2, (1 - top) / 2], axis=1)
    labels = np.where(right, 0, 1)
    cal = calibrate(probs, labels, "max_prob", 0.85)
    # >= 0.6 keeps 7 faces with 6 right (0.857); >= 0.5 keeps 8 with 7 right (0.875): lowest wins
    assert cal.rule.threshold == pytest.approx(0.5)
    assert cal.precision == pytest.approx(7 / 8) and cal.coverage == pytest.approx(0.8)
    assert cal.reached
    strict = calibrate(probs, labels, "max_prob", 1.0)
    assert strict.rule.threshold == pytest.approx(0.7) and strict.precision == 1.0


def test_calibrate_counts_named_unknown_faces_as_wrong() -> None:
    # every known face is right, so known faces alone accept everything ...
    probs = np.array([[0.95, 0.05], [0.9, 0.1], [0.3, 0.7], [0.4, 0.6]])
    labels = np.array([0, 0, 1, 1])
    assert calibrate(probs, labels, "max_prob", 0.9).rule.threshold == pytest.approx(0.6)
    # ... but unknown faces scoring 0.65 and 0.8 must fall under the threshold to reach 0.8
    unknown = np.array([[0.65, 0.35], [0.2, 0.8], [0.55, 0.45]])
    # prior 3/7: each unknown face weighs 1, as many as there are
    cal = calibrate(probs, labels, "max_prob", 0.8, unknown, unknown_prior=3 / 7)
    # >= 0.7: 3 known + 1 unknown named (0.75); >= 0.9: 2 known named (1.0)
    assert cal.rule.threshold == pytest.approx(0.9)
    assert cal.precision == 1.0 and cal.coverage == pytest.approx(0.5)
    assert cal.n == 4 and cal.n_unknown == 3 and cal.unknown_rejected == 1.0
    # prior 0.2: each unknown weighs 1/3, so a named one costs less: >= 0.7 gives
    # 3 / (3 + 1/3) = 0.9, >= 0.6 gives 4 / (4 + 2/3) = 0.857
    rare = calibrate(probs, labels, "max_prob", 0.88, unknown, unknown_prior=0.2)
    assert rare.rule.threshold == pytest.approx(0.7) and rare.precision == pytest.approx(0.9)
    assert rare.coverage == 0.75 and rare.unknown_rejected == pytest.approx(2 / 3)


def test_calibrate_unreachable_target_uses_best_precision() -> None:
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3]])
    labels = np.array([1, 0, 0])  # the most confident face is wrong
    cal = calibrate(probs, labels, "max_prob", 0.99)
    assert not cal.reached and cal.rule.threshold == pytest.approx(0.7)


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
