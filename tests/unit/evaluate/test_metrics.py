import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    jaccard_score,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from starrec.evaluate.metrics import classification_metrics, confusion, metric_values

NAMES = ["ann", "bob", "cid", "dan"]


def _random_predictions(seed: int, n: int = 200, k: int = 4):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, n)
    scores = rng.random((n, k)) + 1.5 * np.eye(k)[y_true] * rng.random((n, 1))
    probs = scores / scores.sum(axis=1, keepdims=True)
    return y_true, probs.argmax(axis=1), probs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_equal_sklearn(seed: int) -> None:
    y_true, y_pred, probs = _random_predictions(seed)
    m = classification_metrics(y_true, y_pred, probs, NAMES, top_k=2)
    assert m["n_samples"] == 200
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert m["top_k_accuracy"] == pytest.approx(top_k_accuracy_score(y_true, probs, k=2))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    iou = jaccard_score(y_true, y_pred, average=None)
    for i, name in enumerate(NAMES):
        assert m["per_class"][name] == pytest.approx(
            {"precision": p[i], "recall": r[i], "f1": f[i], "iou": iou[i], "support": s[i]})
    assert m["macro"]["f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert m["micro"]["f1"] == pytest.approx(f1_score(y_true, y_pred, average="micro"))
    assert m["micro"]["iou"] == pytest.approx(jaccard_score(y_true, y_pred, average="micro"))


def test_tiny_example_by_hand() -> None:
    # actual:    a a a b b c ; predicted: a a b b c c
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    scores = np.eye(3)[y_pred] + 0.5 * np.eye(3)[y_true]  # true class always 2nd or 1st
    m = classification_metrics(y_true, y_pred, scores, ["a", "b", "c"], top_k=2)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["top_k_accuracy"] == 1.0
    a, b, c = (m["per_class"][k] for k in "abc")
    assert (a["precision"], a["recall"], a["iou"], a["support"]) == (1.0, pytest.approx(2 / 3),
                                                                     pytest.approx(2 / 3), 3)
    assert (b["precision"], b["recall"], b["iou"]) == (0.5, 0.5, pytest.approx(1 / 3))
    assert (c["precision"], c["recall"], c["iou"]) == (0.5, 1.0, 0.5)
    assert b["f1"] == pytest.approx(0.5) and c["f1"] == pytest.approx(2 / 3)
    assert m["macro"]["recall"] == pytest.approx((2 / 3 + 0.5 + 1) / 3)
    assert m["micro"]["f1"] == pytest.approx(4 / 6)
    assert m["micro"]["iou"] == pytest.approx(4 / (4 + 2 + 2))  # TP / (TP + FP + FN)
    np.testing.assert_array_equal(confusion(y_true, y_pred, 3),
                                  [[2, 1, 0], [0, 1, 1], [0, 0, 1]])


def test_absent_class_and_capped_k() -> None:
    y_true = np.array([0, 0, 1])
    scores = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.3, 0.7, 0.0]])
    m = classification_metrics(y_true, scores.argmax(1), scores, ["a", "b", "c"], top_k=5)
    assert m["top_k"] == 2 and m["top_k_accuracy"] == 1.0
    assert m["per_class"]["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "iou": 0.0,
                                   "support": 0}
    np.testing.assert_array_equal(confusion(y_true, scores.argmax(1), 3).sum(axis=0), [1, 2, 0])


def test_binary_top1_matches_accuracy_for_any_scores() -> None:
    y_true = np.array([0, 1, 1, 0])
    scores = np.array([[0.2, 0.3], [0.1, 0.9], [0.6, 0.61], [0.5, 0.1]])  # diffs all in [0,1)
    m = classification_metrics(y_true, scores.argmax(1), scores, ["a", "b"], top_k=1)
    assert m["top_k_accuracy"] == m["accuracy"] == 0.75


def test_metric_values_give_gate_metric_names() -> None:
    y_true, y_pred, probs = _random_predictions(0)
    flat = metric_values(classification_metrics(y_true, y_pred, probs, ["a b", "c/d", "é!", "x"], 3))
    assert {"accuracy", "top_k_accuracy", "macro_f1", "micro_iou", "per_class_a b_f1",
            "per_class_c/d_support", "per_class____recall"} <= set(flat)
    assert all(isinstance(v, float) for v in flat.values())
