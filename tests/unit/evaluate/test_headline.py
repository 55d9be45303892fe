"""The headline numbers and the model card from real-shaped reports."""

import numpy as np
import pytest

from starrec.evaluate.card import model_card, run_description
from starrec.evaluate.headline import headline
from starrec.evaluate.metrics import classification_metrics

CLASSES = ["Ariel_Sharon", "Colin_Powell", "Tony_Blair"]


@pytest.fixture
def evaluation() -> dict:
    y = np.array([0, 0, 1, 1, 2, 2])
    right = np.eye(3)[y]
    wrong = np.eye(3)[[0, 1, 1, 1, 2, 0]]
    return {"model": classification_metrics(y, y, right, CLASSES, 2),
            "baseline": classification_metrics(y, wrong.argmax(1), wrong, CLASSES, 2),
            "methods": {"sface_prototype": {"accuracy": 1.0, "macro_f1": 1.0},
                        "sface_prototype_5shot": {"accuracy": 0.83333, "macro_f1": 0.8}},
            "gate": {"promoted": True, "reason": "promoted: accuracy 1.0000 vs ..."}}


OPEN_SET = {"threshold": 0.77, "test": {"at_threshold": {
    "known_rejected": 0.0039, "unknown_rejected": 1.0, "known_accuracy": 0.996}}}


def test_headline_is_a_dozen_short_numbers(evaluation) -> None:
    numbers = headline(evaluation, OPEN_SET)
    assert numbers == {"model/acc": 1.0, "model/f1": 1.0, "eigenfaces/acc": 0.6667,
                       "eigenfaces/f1": pytest.approx(0.6556, abs=1e-4),
                       "prototype/acc": 1.0, "5shot/acc": 0.8333,
                       "open_set/named": 0.9961, "open_set/rejected": 1.0,
                       "gate/promoted": 1.0}
    assert all(isinstance(v, float) for v in numbers.values())


def test_headline_has_the_degraded_mean_when_evaluate_measured_it(evaluation) -> None:
    evaluation["degraded"] = {"severities": ["clean", "px16", "blur"], "seed": 42,
                              "metrics": {"accuracy": 0.712345, "macro_f1": 0.65}}
    numbers = headline(evaluation, OPEN_SET)
    assert (numbers["degraded/acc"], numbers["degraded/f1"]) == (0.7123, 0.65)


def test_card_names_data_metrics_use_limits_and_every_licence(evaluation) -> None:
    numbers = headline(evaluation, OPEN_SET)
    card = model_card("starrec v3", "embedding_head", CLASSES,
                      {"git.commit": "316282e", "dvc.split@stars.data/splits": "abc"}, numbers,
                      evaluation["gate"]["reason"],
                      {"face_detection_yunet_2023mar.onnx": "MIT",
                       "face_recognition_sface_2021dec.onnx": "Apache-2.0"})
    for part in ("# starrec v3", "Tony_Blair", "| git.commit | 316282e |", "| model/acc | 1.0000 |",
                 "## Intended use", "## Limits", "| face_detection_yunet_2023mar.onnx | MIT |",
                 "Apache-2.0", "promoted: accuracy"):
        assert part in card
    assert "every weight was trained here" in model_card("t", "star_cnn", CLASSES, {}, numbers,
                                                         "refused", {})
    text = run_description("starrec v3", numbers, "promoted: ...")
    assert "promoted: ..." in text and "model/acc **1.000**" in text
