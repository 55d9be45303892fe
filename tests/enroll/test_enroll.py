"""Enrol → predict → remove, on real LFW photos through the real detector and backbone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from starrec.config import GalleryParams
from starrec.enroll.classifier import PrototypeClassifier, load_prototype_predictor
from starrec.enroll.enroll import enroll, unenroll
from starrec.enroll.gallery import EnrollError
from starrec.predict.model_io import ModelLoadError, load_predictor
from starrec.predict.classifier import UNKNOWN, Classifier
from starrec.predict.recognize import decode_image

from .conftest import PEOPLE


def photos(shared: Path, person: str, start: int, stop: int) -> list[Path]:
    return sorted((shared / "lfw-subset" / person).glob("*.jpg"))[start:stop]


def trained_people(backbone_path: Path) -> list[str]:
    report = json.loads(backbone_path.with_name("backbone_report.json").read_text())
    return sorted(set(PEOPLE) - set(report["identities"]["held_out_people"]))


@pytest.mark.slow
def test_enroll_predict_remove_round_trip(backbone_path, shared_datasets, tmp_path):
    cfg = GalleryParams(unknown_accept=0.05)
    a, b = trained_people(backbone_path)[:2]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    out = enroll(a, [*photos(shared_datasets, a, 40, 45), broken], backbone_path, cfg)
    assert out["added"] == 5 and out["classes"] == [a]
    assert len(out["skipped"]) == 1 and "broken.jpg" in out["skipped"][0]
    enroll(b, photos(shared_datasets, b, 40, 45), backbone_path, cfg)

    clf = PrototypeClassifier.load(backbone_path)
    assert isinstance(clf, Classifier) and clf.classes == sorted([a, b])
    predictor = load_prototype_predictor(backbone_path)
    # `starrec predict --model models/backbone.keras` loads the same prototype predictor
    from_cli = load_predictor(str(backbone_path))
    assert isinstance(from_cli.classifier, PrototypeClassifier)
    assert from_cli.classifier.classes == clf.classes
    named = {}
    for person in (a, b):  # the enrolment photos sit nearest their own star's prototype
        for photo in photos(shared_datasets, person, 40, 45):
            faces = predictor(decode_image(photo.read_bytes(), 10**8))
            named[photo] = (person, faces[0].top[0][0] if faces else None)
    assert sum(want == got for want, got in named.values()) >= 9, named

    left = unenroll(a, backbone_path, cfg)
    assert left["classes"] == [b] and left["removed"] == 5
    assert PrototypeClassifier.load(backbone_path).classes == [b]
    with pytest.raises(EnrollError, match="not enrolled"):
        unenroll(a, backbone_path, cfg)
    unenroll(b, backbone_path, cfg)
    assert not backbone_path.with_name("gallery.json").exists()
    with pytest.raises(EnrollError, match="no stars enrolled"):
        PrototypeClassifier.load(backbone_path)
    with pytest.raises(ModelLoadError, match="no stars enrolled"):
        load_predictor(str(backbone_path))


def test_enroll_without_any_face_is_a_clear_error(backbone_path, tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"nope")
    with pytest.raises(EnrollError, match="no face found in any of the 1 photos"):
        enroll("Someone", [bad], backbone_path, GalleryParams())


@pytest.mark.slow
def test_unknown_face_is_rejected_with_calibrated_threshold(backbone_path, shared_datasets):
    """New photos of people never trained on nor enrolled (held-out identities; the
    threshold was calibrated on their other photos) are mostly `unknown`, and more often
    than new photos of the enrolled star."""
    cfg = GalleryParams(unknown_accept=0.05)
    star = trained_people(backbone_path)[0]
    enroll(star, photos(shared_datasets, star, 40, 46), backbone_path, cfg)
    try:
        predictor = load_prototype_predictor(backbone_path)

        def labels(person: str) -> list[str]:
            out = []
            for photo in photos(shared_datasets, person, 30, 42):
                faces = predictor(decode_image(photo.read_bytes(), 10**8))
                out += [f.label for f in faces[:1]]
            return out

        report = json.loads(backbone_path.with_name("backbone_report.json").read_text())
        stranger = sum((labels(p) for p in report["identities"]["held_out_people"]), [])
        known = labels(star)
        assert np.mean([x == UNKNOWN for x in stranger]) >= 0.7
        assert np.mean([x == star for x in known]) > np.mean([x != UNKNOWN for x in stranger])
    finally:
        unenroll(star, backbone_path, cfg)
