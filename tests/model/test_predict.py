"""`starrec predict` on real photos with a small real model: annotated outputs, CSV/JSON,
photos without a face and unreadable files reported, unknown people rejected."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from helpers.models import calibrated_copy
from helpers.params import section
from helpers.paths import PARAMS

from starrec.calibrate.openset import tradeoff
from starrec.calibrate.rule import OpenSetRule
from starrec.predict.classifier import UNKNOWN
from starrec.predict.model_io import load_keras_predictor
from starrec.predict.predict import collect_inputs, predict_paths
from starrec.predict.recognize import Predictor


def load_local(path: Path) -> Predictor:
    return load_keras_predictor(path, 3, 64)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, model_dir, known_splits, unknown_faces_arrays) -> Path:
    """A copy of model_dir with open_set.json calibrated on the val faces and every other
    unknown face."""
    return calibrated_copy(model_dir, known_splits["val"], unknown_faces_arrays[::2],
                           tmp_path_factory.mktemp("cal") / "m")


@pytest.fixture(scope="module")
def photos(tmp_path_factory, shared_datasets) -> Path:
    """Unaligned LFW photos of the 3 known people and one other, a photo with no face, a
    non-image and a short video made of real photos."""
    src = shared_datasets / "lfw-original-10x10"
    d = tmp_path_factory.mktemp("photos")
    for person in ["Ariel_Sharon", "Colin_Powell", "Hugo_Chavez", "Tony_Blair"]:
        (d / "in" / person).mkdir(parents=True)
        for f in sorted((src / person).glob("*.jpg"))[:2]:
            shutil.copy(f, d / "in" / person / f.name)
    sky = np.zeros((200, 300, 3), np.uint8)
    sky[:] = (200, 150, 90)
    cv2.imwrite(str(d / "in" / "sky.jpg"), sky)
    (d / "in" / "notes.jpg").write_text("not a photo")
    frames = [cv2.imread(str(f)) for f in sorted((src / "Colin_Powell").glob("*.jpg"))[:3]]
    writer = cv2.VideoWriter(str(d / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 5, (250, 250))
    for frame in frames:
        for _ in range(4):
            writer.write(frame)
    writer.release()
    return d


def test_predict_folder_and_video(calibrated, photos, people, tmp_path) -> None:
    predictor = load_local(calibrated / "model.keras")
    params = section("predict", video_every=4)
    results = predict_paths(predictor, collect_inputs([photos / "in", photos / "clip.mp4"]),
                            tmp_path, params)
    df = pd.read_csv(tmp_path / "predictions.csv")
    df["reason"] = df["reason"].fillna("")
    assert {"file", "frame", "box_x", "box_y", "box_w", "box_h", "label", "confidence",
            "top1", "top2", "top3", "top3_confidence"} <= set(df.columns)
    by_file = {Path(f).name: g for f, g in df.groupby("file")}
    assert by_file["sky.jpg"]["status"].tolist() == ["no_face"]
    assert by_file["notes.jpg"]["status"].tolist() == ["error"]
    assert "notes.jpg" in by_file["notes.jpg"]["reason"].iloc[0]
    faces = df[df["status"] == "ok"]
    photo_faces = faces[faces["kind"] == "image"]
    # every real photo gave at least one face, each with a box inside the 250x250 photo
    assert set(photo_faces["file"].map(lambda f: Path(f).name)) == {
        p.name for p in (photos / "in").rglob("*.jpg") if p.parent.name != "in"}
    assert (photo_faces["box_x"] >= 0).all() and (photo_faces.eval("box_x + box_w") <= 250).all()
    assert set(faces["label"]) <= {*people, UNKNOWN}
    assert (faces["top1_confidence"] >= faces["top2_confidence"]).all()
    assert np.allclose(faces["confidence"], faces["top1_confidence"], atol=1e-3)
    video = faces[faces["kind"] == "video"]
    assert sorted(set(video["frame"])) == [0, 4, 8]  # every 4th of 12 frames
    # annotated outputs exist and are real images / a readable video
    for r in results:
        if r.status != "error":
            assert Path(r.annotated).is_file()
    annotated = cv2.imread(str(tmp_path / "annotated" / "in" / "Colin_Powell" /
                                "Colin_Powell_0001.jpg"))
    original = cv2.imread(str(photos / "in" / "Colin_Powell" / "Colin_Powell_0001.jpg"))
    assert annotated.shape == original.shape and not np.array_equal(annotated, original)
    cap = cv2.VideoCapture(str(tmp_path / "annotated" / "clip.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    cap.release()
    js = json.loads((tmp_path / "predictions.json").read_text())
    assert sum(len(f["faces"]) for f in js) == len(faces)


def test_unknown_people_rejected_at_calibrated_rate(calibrated, known_splits,
                                                    unknown_faces_arrays) -> None:
    """The report's unknown-rejection rate on held-out people is what prediction does."""
    x_unknown = unknown_faces_arrays
    predictor = load_local(calibrated / "model.keras")
    rule = predictor.rule
    clf = predictor.classifier
    report = tradeoff(clf.predict_proba(known_splits["test"][0]), known_splits["test"][1],
                      clf.predict_proba(x_unknown), rule)
    at = report["at_threshold"]
    # the val-calibrated threshold holds on test photos of the known people (this small CNN
    # is unsure of many of them: the threshold trades some of them for strangers rejected) ...
    assert at["known_accuracy"] > 0.6 and at["known_precision"] >= 0.8
    # ... and turns unknown people away far more often than known ones
    assert at["unknown_rejected"] > at["known_rejected"] + 0.25
    # the predictor labels exactly those faces `unknown` that the rule rejects
    names = [f.label for f in Predictor(clf, rule, 3).classify(x_unknown)]
    assert np.mean([n == UNKNOWN for n in names]) == pytest.approx(at["unknown_rejected"])
    closed = Predictor(clf, OpenSetRule("max_prob", 0.0), 3).classify(x_unknown)
    assert UNKNOWN not in {f.label for f in closed}


def test_cli_predict_local_model(calibrated, photos, tmp_path) -> None:
    from typer.testing import CliRunner

    from starrec.cli import app

    photo = photos / "in" / "Hugo_Chavez"
    res = CliRunner().invoke(app, ["predict", str(photo), "--model",
                                   str(calibrated / "model.keras"), "-o", str(tmp_path),
                                   "--params", str(PARAMS)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "predictions.csv")
    assert len(df) >= 2 and (df["status"] == "ok").all()
    missing = CliRunner().invoke(app, ["predict", str(tmp_path / "nope.jpg"), "--model",
                                       str(calibrated / "model.keras"), "--params", str(PARAMS)])
    assert missing.exit_code == 1
    no_params = CliRunner().invoke(app, ["predict", str(photo), "--params",
                                         str(tmp_path / "none.yaml")])
    assert no_params.exit_code == 1


def test_stale_threshold_refused(calibrated, photos, tmp_path) -> None:
    """A model retrained after calibration (another model file beside the old open_set.json)
    is refused by predict, with the fix, instead of turning faces into `unknown`."""
    import keras
    from typer.testing import CliRunner

    from starrec.cli import app
    from starrec.predict.model_io import ModelLoadError

    stale = Path(shutil.copytree(calibrated, tmp_path / "m"))
    model = keras.saving.load_model(stale / "model.keras", compile=False)
    model.set_weights([w * 0.5 for w in model.get_weights()])  # "retrained": other weights
    model.save(stale / "model.keras")
    with pytest.raises(ModelLoadError, match="dvc repro calibrate") as err:
        load_local(stale / "model.keras")
    assert str(stale / "open_set.json") in str(err.value)
    assert str(stale / "model.keras") in str(err.value) and "\n" not in str(err.value)
    res = CliRunner().invoke(app, ["predict", str(photos / "in" / "Hugo_Chavez"), "--model",
                                   str(stale / "model.keras"), "-o", str(tmp_path / "out"),
                                   "--params", str(PARAMS)])
    assert res.exit_code == 1 and not (tmp_path / "out" / "predictions.csv").exists()
    assert "dvc repro calibrate" in res.output
