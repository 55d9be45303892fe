"""The unknown threshold on real SFace embeddings: LFW-7 are the stars (prototypes of, or the
head trained on, 24 photos each), other LFW people the unknowns, half of them calibrating the
threshold and half judging it; the threshold record refuses a model it was not calibrated
for."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from starrec.calibrate.openset import calibrate_threshold, calibration_people, tradeoff
from starrec.calibrate.rule import ThresholdMismatch, load_rule, model_id_of
from starrec.config import Config
from starrec.evaluate.compare_embedders import prototype_scores
from starrec.train.embedding_head import fit_embedding_head


@pytest.fixture(scope="module")
def target(cfg: Config) -> tuple[float, float]:
    """params.yaml's target precision (0.95) and share of unknown faces expected (0.2)."""
    return cfg.predict.target_precision, cfg.predict.unknown.prior


@pytest.fixture(scope="module")
def faces(lfw_sface, lfw_stars, tmp_path_factory):
    """LFW-7, 40 photos per star: 24 train / 8 calibration / 8 test; 6 photos of each of the
    55 other people, the people split in half (seeded): calibration and test unknowns."""
    stars = lfw_stars[:7]
    known = lfw_sface.of(stars)
    y = np.array([stars.index(who) for who in known.people])
    rank = pd.Series(known.people).groupby(known.people).cumcount().to_numpy()
    others = lfw_sface.take(~np.isin(lfw_sface.people, stars))
    others = others.take(
        (pd.Series(others.people).groupby(others.people).cumcount() < 6).to_numpy())
    calib = np.isin(others.people, sorted(calibration_people(list(others.people), 0.5, 42)))
    model = tmp_path_factory.mktemp("model") / "prototypes.npz"
    np.savez(model, x=known.x[rank < 24], y=y[rank < 24])
    cal, test = (rank >= 24) & (rank < 32), rank >= 32
    return {"train": (known.x[rank < 24], y[rank < 24]), "model": model,
            "cal": (known.x[cal], y[cal], others.x[calib]),
            "test": (known.x[test], y[test], others.x[~calib])}


def class_scores(faces, classifier: str, cfg: Config):
    """(calibration, test) triples of class scores: cosines to the prototypes or the
    embedding head's probabilities."""
    x_train, y_train = faces["train"]
    if classifier == "prototype":
        def score(x):
            return prototype_scores(x_train, y_train, x)
    else:
        head, _ = fit_embedding_head(x_train, y_train, None, None, cfg.train.embedding_head, 0)

        def score(x):
            return head.predict(x, verbose=0)
    return [(score(k), y, score(u)) for k, y, u in (faces["cal"], faces["test"])]


@pytest.fixture(scope="module")
def scores(faces, cfg: Config):
    cal, test = class_scores(faces, "prototype", cfg)
    return {"cal": cal, "test": test, "model": faces["model"]}


@pytest.mark.parametrize("classifier", ["prototype", "head"])
def test_stars_named_and_strangers_rejected_at_target_precision(faces, classifier: str,
                                                                cfg: Config, target) -> None:
    """Calibrated on 56 star faces and 168 faces of 28 held-out people, measured on the
    other 56 star faces and 162 faces of 27 other people: 1.0 of the stars' faces named right
    and 1.0 of the unknown faces rejected, by prototype cosine (threshold 0.57; test scores:
    stars >= 0.61, unknowns <= 0.42) and by head probability (0.74; 3 seeds the same); the
    issue's target >= 0.95 / >= 0.95. (The lowest threshold reaching the precision, which
    calibrate took before, named as many stars but rejected only 0.82 with prototypes.)"""
    (known, labels, unknown), test = class_scores(faces, classifier, cfg)
    precision, prior = target
    record = calibrate_threshold(known, labels, unknown, precision, prior,
                                 model_id_of(faces["model"]))
    assert record.reached and record.precision >= precision
    assert record.known_named >= 0.98 and record.unknown_rejected >= 0.98
    at = tradeoff(*test, record.rule)["at_threshold"]
    assert at["known_accuracy"] >= 0.97 and at["unknown_rejected"] >= 0.97, at


def test_record_refuses_another_model(scores, target, tmp_path: Path) -> None:
    model_id = model_id_of(scores["model"])
    record = calibrate_threshold(*scores["cal"], *target, model_id)
    rule_file = tmp_path / "open_set.json"
    rule_file.write_text(json.dumps(record.to_json()))
    assert load_rule(rule_file, scores["model"]) == record.rule
    assert model_id.startswith("sha256:") and len(model_id) == 71
    retrained = tmp_path / "prototypes.npz"
    retrained.write_bytes(scores["model"].read_bytes() + b"\0")
    with pytest.raises(ThresholdMismatch, match=(
            rf"open_set.json: threshold calibrated for model {model_id}, but .*prototypes.npz "
            r"is sha256:[0-9a-f]{64}; re-calibrate: dvc repro calibrate$")):
        load_rule(rule_file, retrained)
    del_id = {k: v for k, v in record.to_json().items() if k != "model_id"}
    rule_file.write_text(json.dumps(del_id))
    with pytest.raises(ThresholdMismatch, match=r"calibrated for model \(not recorded\)"):
        load_rule(rule_file, scores["model"])


def test_unreachable_target_uses_the_most_precise_threshold(scores, target) -> None:
    """Unknown faces scored like the stars' (their own cosines): no threshold reaches 0.95."""
    known, labels, _ = scores["cal"]
    record = calibrate_threshold(known, labels, known.copy(), target[0], 0.9, "sha256:x")
    assert not record.reached and record.precision < target[0]
    with pytest.raises(ValueError, match=r"open set: no unknown faces to calibrate with"):
        calibrate_threshold(known, labels, known[:0], *target, "sha256:x")
