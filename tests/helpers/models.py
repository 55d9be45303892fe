"""A small real classifier for the tests that need a trained model: a tiny CNN trained for a
few seconds on centre-cropped faces of 3 LFW people, saved the way the train stage saves its
model (model.keras + model_meta.json), and faces dirs of known and unknown people."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from helpers.faces import make_faces_dir
from helpers.params import section
from starrec.artifacts import MODEL, MODEL_META, OPEN_SET
from starrec.config import TrainParams
from starrec.model_meta import ModelMeta, write_meta

PEOPLE = ["Ariel_Sharon", "Colin_Powell", "Hugo_Chavez"]  # all three in lfw-original-10x10
OTHERS = ["Tony_Blair", "Gerhard_Schroeder", "Donald_Rumsfeld", "Jacques_Chirac"]
SIZE = 32


def load_faces(faces: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images float32 [0,1] Nx32x32x1 and labels (index in PEOPLE, -1 for others)."""
    df = pd.read_csv(faces / "manifest.csv")
    x = np.stack([np.asarray(Image.open(faces / p), np.float32)[..., None] / 255.0
                  for p in df["path"]])
    y = np.array([PEOPLE.index(c) if c in PEOPLE else -1 for c in df["class"]])
    return x, y


def faces_slice(tmp: Path, lfw: Path, people: list[str], start: int, stop: int) -> Path:
    """Faces of photos [start, stop) of each person (disjoint slices = disjoint photos)."""
    src = tmp / "src"
    for person in people:
        (src / person).mkdir(parents=True, exist_ok=True)
        for f in sorted((lfw / person).glob("*.jpg"))[start:stop]:
            (src / person / f.name).symlink_to(f)
    return make_faces_dir(tmp / "faces", src, {p: stop - start for p in people}, SIZE, 1)


def train_classifier(x: np.ndarray, y: np.ndarray, out: Path) -> Path:
    """A small CNN fitted on (x, y), saved with its meta JSON into `out` (as train does)."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dropout(0.3),
        keras.layers.Dense(len(PEOPLE), activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=40, batch_size=16, verbose=0)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / MODEL)
    extract = section("extract", detector="haar", policy="largest", image_size=SIZE,
                      color_mode="gray", min_face_size=40)
    write_meta(out / MODEL_META, ModelMeta(classes=PEOPLE, image_size=SIZE, channels=1,
                                           extract=extract))
    return out


def fast_train(**over) -> TrainParams:
    """params.yaml's train section cut to a two-epoch run."""
    base = dict(epochs=2, batch_size=16, use_augmented=False, early_stopping_patience=5)
    return section("train", **{**base, **over})


def calibrated_copy(model_dir: Path, val: tuple[np.ndarray, np.ndarray], unknown: np.ndarray,
                    dest: Path) -> Path:
    """A copy of `model_dir` with open_set.json calibrated on the `val` faces and `unknown`
    people's faces (0.9 precision, 1 face in 5 unknown); `model_dir` itself is left as it is."""
    import shutil

    from starrec.calibrate.openset import calibrate_threshold
    from starrec.calibrate.rule import model_id_of
    from starrec.io import write_json_atomic
    from starrec.predict.model_io import load_classifier

    out = Path(shutil.copytree(model_dir, dest))
    clf = load_classifier(out / MODEL, out / MODEL_META, batch_size=64)
    record = calibrate_threshold(clf.predict_proba(val[0]), val[1], clf.predict_proba(unknown),
                                 0.9, 0.2, model_id_of(out / MODEL))
    write_json_atomic(out / OPEN_SET, record.to_json())
    return out
