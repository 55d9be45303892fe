"""One photo through the training path (the extract_faces and embed stages) and through
predict and serving gives identical model input: the same aligned crop, pixel for pixel, and
the same embedding, bit for bit. Photos in the modes that trip decoders: a plain JPEG, an
RGBA PNG with transparency, a 16-bit grayscale PNG and an EXIF-rotated JPEG, all made from
real LFW photos."""

from __future__ import annotations

import base64
import io
import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from helpers.faces import make_raw
from helpers.params import section, stage_config
from helpers.stages import run_main
from PIL import Image

from starrec.artifacts import MANIFEST, MODEL, MODEL_META, OPEN_SET, embeddings_file
from starrec.calibrate.rule import model_id_of
from starrec.faces.model_files import resolve_model_file
from starrec.faces.detect import faces_in_image, to_input
from starrec.faces.image import decode_rgb
from starrec.predict.model_io import EmbeddingClassifier
from starrec.serve.load import load_predictor
from starrec.serve.pyfunc import StarPyfunc, encode_image

PERSON = "Colin_Powell"
PREDICT = section("predict")


def rgba_png(img: Image.Image) -> bytes:
    """Transparent left border, half-transparent bottom band (composited over white)."""
    rgba = np.dstack([np.asarray(img), np.full(img.size[::-1], 255, np.uint8)])
    rgba[:, :30, 3] = 0
    rgba[-40:, :, 3] = 128
    return png(Image.fromarray(rgba, "RGBA"))


def gray16_png(img: Image.Image) -> bytes:
    """The photo's gray levels widened to 16 bits, low bits filled with seeded noise."""
    gray = np.asarray(img.convert("L"), np.uint16) * 257
    noise = np.random.default_rng(0).integers(0, 200, gray.shape, dtype=np.uint16)
    out = Image.fromarray(gray + noise)
    assert out.mode == "I;16"
    return png(out)


def exif_rotated_jpeg(img: Image.Image) -> bytes:
    """Pixels stored turned a quarter left, EXIF orientation 6 turning them upright again."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    img.transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", quality=95, exif=exif)
    return buf.getvalue()


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_datasets):
    """The photos through the real extract_faces and embed stages: (cfg, raw photo files)."""
    files = sorted((shared_datasets / "lfw-subset" / PERSON).glob("*.jpg"))[:4]
    plain = [Image.open(f).convert("RGB") for f in files]
    items = [(PERSON, "plain.jpg", files[0].read_bytes()),
             (PERSON, "rgba.png", rgba_png(plain[1])),
             (PERSON, "gray16.png", gray16_png(plain[2])),
             (PERSON, "rotated.jpg", exif_rotated_jpeg(plain[3].crop((0, 15, 250, 235))))]
    # one worker: extract_faces forks its workers, and a fork of a process that already runs
    # TensorFlow (the session's model fixture) can hang; tests/stages/test_extract_faces.py
    # shows n_jobs does not change the output
    cfg = stage_config(tmp_path_factory.mktemp("parity"), extract={"n_jobs": 1})
    make_raw(cfg.paths.raw, items)
    run_main("extract_faces", cfg)
    run_main("embed", cfg)
    return cfg, [cfg.paths.raw / PERSON / name for _, name, _ in items]


@pytest.fixture(scope="module")
def served(sface_model, tmp_path_factory) -> StarPyfunc:
    """The pyfunc model as serving loads it: its artifacts (the logged model files and the
    verified YuNet/SFace copies) through `load_context`."""
    rule = tmp_path_factory.mktemp("rule") / OPEN_SET
    rule.write_text(json.dumps({"score": "max_prob", "threshold": 0.5,
                                "model_id": model_id_of(sface_model)}))
    wrapper = StarPyfunc(PREDICT.max_image_bytes, PREDICT.max_image_pixels, PREDICT.top_k,
                         PREDICT.batch_size)
    wrapper.load_context(mlflow.pyfunc.PythonModelContext(artifacts={
        "model": str(sface_model), "meta": str(sface_model.with_name(MODEL_META)),
        "open_set": str(rule), "yunet": str(resolve_model_file("yunet")),
        "sface": str(resolve_model_file("sface"))}, model_config={}))
    return wrapper


def training_faces(cfg, photo_name: str) -> tuple[list[np.ndarray], np.ndarray, list[tuple]]:
    """The extract stage's crops (PNG pixels) of one photo, the embed stage's rows for them,
    and their boxes, largest face first."""
    faces = pd.read_csv(cfg.paths.faces / MANIFEST, dtype=str, keep_default_na=False)
    faces = faces[(faces["status"] == "ok") & (faces["source_path"] == f"{PERSON}/{photo_name}")]
    with np.load(cfg.paths.embeddings / embeddings_file("sface")) as data:
        row = {fid: i for i, fid in enumerate(data["face_id"])}
        x = data["x"][[row[f] for f in faces["face_id"]]]
    crops = [np.asarray(Image.open(cfg.paths.faces / p)) for p in faces["path"]]
    boxes = [tuple(int(r[c]) for c in ("box_x", "box_y", "box_w", "box_h"))
             for _, r in faces.iterrows()]
    return crops, x, boxes


def model_input(rgb: np.ndarray, predictor) -> tuple[list[np.ndarray], np.ndarray, list]:
    """What a Predictor feeds its classifier for one decoded photo: its crops (the detector
    and extract params it runs), and their embeddings."""
    clf = predictor.classifier
    assert isinstance(clf, EmbeddingClassifier)
    crops = faces_in_image(rgb, predictor.extract, predictor.detector)
    x = clf.embed(np.stack([to_input(c.image, clf.channels) for c in crops]))
    return [c.image for c in crops], x, [tuple(int(v) for v in c.box) for c in crops]


def test_training_predict_and_serving_feed_the_model_identically(trained, sface_model, served):
    cfg, photos = trained
    predictor = load_predictor(str(sface_model), PREDICT.top_k, PREDICT.batch_size)
    for photo in photos:
        crops, x, boxes = training_faces(cfg, photo.name)
        assert crops, f"{photo.name}: the extract stage found no face"
        paths = {"predict": model_input(decode_rgb(photo.read_bytes(), PREDICT.max_image_pixels),
                                        predictor),
                 "serve": model_input(served._decode(0, encode_image(photo)), served.predictor)}
        for path, (got_crops, got_x, got_boxes) in paths.items():
            assert got_boxes == boxes, (photo.name, path)
            assert all(np.array_equal(a, b) for a, b in zip(got_crops, crops, strict=True)), \
                (photo.name, path)
            assert got_x.dtype == x.dtype and np.array_equal(got_x, x), (photo.name, path)
        answer = served.predict(None, pd.DataFrame({"image": [encode_image(photo)]}))[0]
        assert [f["box"] for f in answer["faces"]] == [list(b) for b in boxes]


def test_the_odd_photos_really_are_odd(trained):
    """The inputs exercise what they claim: alpha, 16-bit gray, an EXIF turn."""
    _, photos = trained
    modes = {p.name: Image.open(p).mode for p in photos}
    assert modes == {"plain.jpg": "RGB", "rgba.png": "RGBA", "gray16.png": "I;16",
                     "rotated.jpg": "RGB"}
    assert Image.open(photos[3]).getexif()[0x0112] == 6
    assert Image.open(photos[3]).size == (220, 250)  # stored turned: 220 wide, 250 high
    assert decode_rgb(photos[3]).shape[:2] == (220, 250)  # upright: 220 high, 250 wide
    rgba = decode_rgb(photos[1])
    assert (rgba[:-40, :30] == 255).all()  # transparent → white
    assert base64.b64decode(encode_image(photos[2])) == photos[2].read_bytes()
