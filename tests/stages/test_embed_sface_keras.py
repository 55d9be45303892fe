"""Stage `embed` with embedders [sface, sface_keras] on faces the real extract_faces stage
cut from LFW photos: one npz each, in manifest order, the Keras vectors OpenCV's (cosine >=
0.999), and meta.json recording the Keras SFace's input, licence and the file it was read from."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from helpers.faces import copy_photos, make_raw
from helpers.params import stage_config
from helpers.stages import run_main

from starrec.faces.model_files import artifact

PEOPLE = ["Colin_Powell", "Tony_Blair"]


def test_embed_stage_writes_keras_sface_vectors_beside_opencvs(tmp_path: Path,
                                                               shared_datasets: Path) -> None:
    lfw = shared_datasets / "lfw-subset"
    raw = make_raw(tmp_path / "raw", copy_photos(
        [f for person in PEOPLE for f in sorted((lfw / person).glob("*.jpg"))[:5]]))
    cfg = stage_config(tmp_path, extract={"n_jobs": 1},
                       embed={"embedders": ["sface", "sface_keras"]})
    cfg = cfg.model_copy(update={"paths": cfg.paths.model_copy(update={"raw": raw})})
    run_main("extract_faces", cfg)
    run_main("embed", cfg)

    out = cfg.paths.embeddings
    opencv, keras_ = np.load(out / "sface.npz"), np.load(out / "sface_keras.npz")
    assert len(opencv["face_id"]) >= 10
    assert list(keras_["face_id"]) == list(opencv["face_id"])
    assert (keras_["x"] * opencv["x"]).sum(axis=1).min() >= 0.999
    meta = json.loads((out / "meta.json").read_text())["sface_keras"]
    assert meta["input"]["colour"] == "rgb" and meta["input"]["size"] == 112
    assert meta["licence"] == "Apache-2.0" and meta["model_sha256"] == artifact("sface").sha256
