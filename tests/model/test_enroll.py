"""Enrol → predict → remove, on real LFW photos through the real detector and backbone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers.params import section
from helpers.pretrain import PEOPLE

from starrec.enroll.classifier import PrototypeClassifier, load_prototype_predictor
from starrec.enroll.enroll import enroll as enroll_photos
from starrec.enroll.enroll import unenroll
from starrec.enroll.gallery import EnrollError
from starrec.faces.image import decode_rgb
from starrec.predict.classifier import UNKNOWN, Classifier
from starrec.predict.model_io import ModelLoadError
from starrec.serve.load import load_predictor

PREDICT = section("predict")
GALLERY = section("pretrain", gallery={"unknown_accept": 0.05}).gallery


def enroll(name, files, backbone_path, cfg):
    return enroll_photos(name, files, backbone_path, cfg, PREDICT.max_image_pixels)


def load(path: Path):
    return load_predictor(str(path), PREDICT.top_k, PREDICT.batch_size)


def photos(shared: Path, person: str, start: int, stop: int) -> list[Path]:
    return sorted((shared / "lfw-subset" / person).glob("*.jpg"))[start:stop]


@pytest.fixture()
def backbone(backbone_path: Path, tmp_path: Path) -> Path:
    """This test's own copy of the session backbone: enrolling writes beside it."""
    return Path(shutil.copytree(backbone_path.parent, tmp_path / "models")) / backbone_path.name


def trained_people(backbone_path: Path) -> list[str]:
    report = json.loads(backbone_path.with_name("backbone_report.json").read_text())
    return sorted(set(PEOPLE) - set(report["identities"]["held_out_people"]))


def test_enroll_predict_remove_round_trip(backbone, shared_datasets, tmp_path):
    backbone_path = backbone
    cfg = GALLERY
    a, b = trained_people(backbone_path)[:2]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    out = enroll(a, [*photos(shared_datasets, a, 40, 45), broken], backbone_path, cfg)
    assert out["added"] == 5 and out["classes"] == [a]
    assert len(out["skipped"]) == 1 and "broken.jpg" in out["skipped"][0]
    enroll(b, photos(shared_datasets, b, 40, 45), backbone_path, cfg)

    clf = PrototypeClassifier.load(backbone_path)
    assert isinstance(clf, Classifier) and clf.classes == sorted([a, b])
    predictor = load_prototype_predictor(backbone_path, PREDICT.top_k)
    # `starrec predict --model models/backbone.keras` loads the same prototype predictor
    from_cli = load(backbone_path)
    assert isinstance(from_cli.classifier, PrototypeClassifier)
    assert from_cli.classifier.classes == clf.classes
    named = {}
    for person in (a, b):  # the enrolment photos sit nearest their own star's prototype
        for photo in photos(shared_datasets, person, 40, 45):
            faces = predictor(decode_rgb(photo.read_bytes()))
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
        load(backbone_path)


def test_enroll_without_any_face_is_a_clear_error(backbone, tmp_path):
    backbone_path = backbone
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"nope")
    with pytest.raises(EnrollError, match="no face found in any of the 1 photos"):
        enroll("Someone", [bad], backbone_path, GALLERY)


def test_unknown_face_is_rejected_with_calibrated_threshold(backbone, shared_datasets):
    """New photos of people never trained on nor enrolled (held-out identities; the
    threshold was calibrated on their other photos) are mostly `unknown`, and more often
    than new photos of the enrolled star."""
    cfg = GALLERY
    star = trained_people(backbone)[0]
    enroll(star, photos(shared_datasets, star, 40, 46), backbone, cfg)
    predictor = load_prototype_predictor(backbone, PREDICT.top_k)

    def labels(person: str) -> list[str]:
        out = []
        for photo in photos(shared_datasets, person, 30, 42):
            faces = predictor(decode_rgb(photo.read_bytes()))
            out += [f.label for f in faces[:1]]
        return out

    report = json.loads(backbone.with_name("backbone_report.json").read_text())
    stranger = sum((labels(p) for p in report["identities"]["held_out_people"]), [])
    known = labels(star)
    assert np.mean([x == UNKNOWN for x in stranger]) >= 0.7
    assert np.mean([x == star for x in known]) > np.mean([x != UNKNOWN for x in stranger])
