"""Enrol → predict → remove, on real LFW photos through the real YuNet detector and SFace
embedder of a small trained head (the default face path), and on the own backbone."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers.head import ENROLL_PEOPLE
from helpers.params import section
from helpers.pretrain import PEOPLE
from typer.testing import CliRunner

from starrec.artifacts import GALLERY_JSON, IMPOSTORS, MODEL, MODEL_META
from starrec.cli import app
from starrec.enroll import EnrollError
from starrec.enroll.prototypes import PrototypeClassifier
from starrec.enroll.enroll import enroll as enroll_photos
from starrec.enroll.enroll import unenroll as unenroll_star
from starrec.faces.image import decode_rgb
from starrec.predict.classifier import UNKNOWN, Classifier
from starrec.predict.model_io import ModelLoadError
from starrec.serve.load import load_predictor

PREDICT = section("predict")
ACCEPT = section("enroll").unknown_accept  # 0.05
A, B, STRANGER = ENROLL_PEOPLE


def enroll(name, files, model):
    return enroll_photos(name, files, model, ACCEPT, PREDICT.max_image_pixels,
                         PREDICT.batch_size)


def unenroll(name, model):
    return unenroll_star(name, model, ACCEPT, PREDICT.batch_size)


def load(path: Path):
    return load_predictor(str(path), PREDICT.top_k, PREDICT.batch_size)


def photos(shared: Path, person: str, start: int, stop: int) -> list[Path]:
    return sorted((shared / "lfw-subset" / person).glob("*.jpg"))[start:stop]


def labels(predictor, files: list[Path]) -> list[str]:
    """The label of each photo's largest face (None: no face)."""
    out = []
    for f in files:
        faces = predictor(decode_rgb(f))
        out.append(faces[0].label if faces else None)
    return out


@pytest.fixture()
def model(sface_model: Path, tmp_path: Path) -> Path:
    """This test's own copy of the session's head: enrolling writes beside it."""
    return Path(shutil.copytree(sface_model.parent, tmp_path / "models")) / MODEL


def test_enrolled_stars_are_named_and_a_stranger_is_unknown(model, shared_datasets, tmp_path):
    """Measured: 20/20 held-out photos of the two enrolled people named right (cosine
    0.73-0.89), 10/10 of the stranger's photos `unknown` (<= 0.24; threshold 0.30 over 120
    impostor faces)."""
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    out = enroll(A, [*photos(shared_datasets, A, 0, 5), broken], model)
    assert out["added"] == 5 and out["classes"] == [A]
    assert len(out["skipped"]) == 1 and "broken.jpg" in out["skipped"][0]
    out = enroll(B, photos(shared_datasets, B, 0, 5), model)
    assert out["classes"] == [A, B] and out["photos"] == {A: 5, B: 5}

    record = json.loads(model.with_name(GALLERY_JSON).read_text())
    assert (record["model"], record["embedder"], record["unknown_accept"]) == (MODEL, "sface", ACCEPT)
    assert record["n_impostors"] >= 100
    predictor = load(model.with_name(GALLERY_JSON))  # starrec predict --model models/gallery.json
    clf = predictor.classifier
    assert isinstance(clf, PrototypeClassifier) and isinstance(clf, Classifier)
    assert clf.classes == [A, B] and clf.source.embedder == "sface"
    assert predictor.rule.threshold == record["threshold"]
    for person in (A, B):
        got = labels(predictor, photos(shared_datasets, person, 5, 15))
        assert got.count(person) >= 9, (person, got)
    stranger = labels(predictor, photos(shared_datasets, STRANGER, 0, 10))
    assert stranger.count(UNKNOWN) >= 8, stranger


def test_unenroll_removes_a_star(model, shared_datasets):
    for person in (A, B):
        enroll(person, photos(shared_datasets, person, 0, 5), model)
    left = unenroll(A, model)
    assert left["classes"] == [B] and left["removed"] == 5
    predictor = load(model.with_name(GALLERY_JSON))
    assert predictor.classifier.classes == [B]
    assert set(labels(predictor, photos(shared_datasets, A, 5, 10))) == {UNKNOWN}
    with pytest.raises(EnrollError, match=rf"^'{A}' is not enrolled \(enrolled: {B}\)$"):
        unenroll(A, model)
    unenroll(B, model)
    assert not model.with_name(GALLERY_JSON).exists()
    with pytest.raises(ModelLoadError, match="no stars enrolled"):
        load(model.with_name(GALLERY_JSON))


def test_one_line_errors(model, model_dir, shared_datasets, tmp_path):
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"nope")
    with pytest.raises(EnrollError, match="no face found in any of the 1 photos"):
        enroll("Someone", [bad], model)
    with pytest.raises(EnrollError, match="no such model; run dvc repro first"):
        enroll("Someone", [bad], tmp_path / "nowhere" / MODEL)
    with pytest.raises(EnrollError, match="a CNN on face crops has no embeddings"):
        enroll("Someone", [bad], model_dir / MODEL)
    model.with_name(IMPOSTORS).unlink()
    with pytest.raises(EnrollError, match=r"impostors.npz: no impostor bank yet; run dvc repro"):
        enroll(A, photos(shared_datasets, A, 0, 2), model)
    result = CliRunner().invoke(app, ["unenroll", "Nobody", "--model", str(model),
                                      "--params", str(Path("params.yaml").resolve())])
    assert result.exit_code == 1
    assert result.output.strip() == "error: 'Nobody' is not enrolled (enrolled: none)"


def test_five_celebrity_stars_from_five_photos_each(model, shared_datasets):
    """five-celebrity-faces: the first 5 train/ photos of each star enrolled, every val/ photo
    predicted (its largest face). Measured: 25/25 named right (lowest cosine 0.38, a Madonna
    photo; threshold 0.35); the issue's target is >= 0.96."""
    five = shared_datasets / "five-celebrity-faces"
    stars = sorted(d.name for d in (five / "train").iterdir())
    for star in stars:
        enroll(star, sorted((five / "train" / star).iterdir())[:5], model)
    predictor = load(model.with_name(GALLERY_JSON))
    val = {star: sorted((five / "val" / star).iterdir()) for star in stars}
    got = {star: labels(predictor, files) for star, files in val.items()}
    named = np.mean([label == star for star in stars for label in got[star]])
    assert named >= 0.96, got


@pytest.fixture()
def backbone(backbone_path: Path, tmp_path: Path) -> Path:
    """This test's own copy of the session backbone: enrolling writes beside it."""
    return Path(shutil.copytree(backbone_path.parent, tmp_path / "models")) / backbone_path.name


def test_own_backbone_gallery(backbone, sface_model, shared_datasets):
    """`--model models/backbone.keras`: the same gallery on the pretrain stage's backbone and
    its impostor bank; a gallery of one embedder refuses another model beside it."""
    report = json.loads(backbone.with_name("backbone_report.json").read_text())
    a, b = sorted(set(PEOPLE) - set(report["identities"]["held_out_people"]))[:2]
    for person in (a, b):
        enroll(person, photos(shared_datasets, person, 40, 45), backbone)
    predictor = load(backbone.with_name(GALLERY_JSON))
    assert predictor.classifier.source.embedder == "own"
    assert predictor.classifier.classes == sorted([a, b])
    top = {}
    for person in (a, b):  # the enrolment photos sit nearest their own star's prototype
        for photo in photos(shared_datasets, person, 40, 45):
            faces = predictor(decode_rgb(photo))
            top[photo.name] = (person, faces[0].top[0][0] if faces else None)
    assert sum(want == got for want, got in top.values()) >= 9, top

    for name in (MODEL, MODEL_META, IMPOSTORS):
        shutil.copy(sface_model.with_name(name), backbone.with_name(name))
    with pytest.raises(EnrollError, match=r"stars enrolled on backbone.keras \(embedder own\); "
                                          r"use --model .*backbone.keras$"):
        enroll(A, photos(shared_datasets, A, 0, 5), backbone.with_name(MODEL))
