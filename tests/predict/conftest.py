"""A small real model for the prediction tests: a tiny CNN trained for a few seconds on
centre-cropped faces of 3 LFW people, saved the way the train stage saves its model."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from starrec.config import ExtractParams

_root = importlib.util.spec_from_file_location("_root_conftest", Path(__file__).parents[1] / "conftest.py")
_conftest = importlib.util.module_from_spec(_root)
_root.loader.exec_module(_conftest)
make_faces_dir = _conftest.make_faces_dir

PEOPLE = ["Ariel_Sharon", "Colin_Powell", "Hugo_Chavez"]  # all three in lfw-original-10x10
SIZE = 32


def load_faces(faces: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images float32 [0,1] Nx32x32x1 and labels (index in PEOPLE) of a faces dir."""
    import pandas as pd

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


@pytest.fixture(scope="session")
def known_face_dirs(tmp_path_factory, shared_datasets) -> dict[str, Path]:
    """Faces dirs of the 3 known people from disjoint photos: train, val, test."""
    lfw = shared_datasets / "lfw-subset"
    return {name: faces_slice(tmp_path_factory.mktemp(name), lfw, PEOPLE, a, b)
            for name, (a, b) in {"train": (0, 40), "val": (40, 58), "test": (58, 76)}.items()}


@pytest.fixture(scope="session")
def known_splits(known_face_dirs) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {name: load_faces(d) for name, d in known_face_dirs.items()}


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, known_splits) -> Path:
    """models/model.keras + model_meta.json, as the train stage writes them."""
    import keras

    keras.utils.set_random_seed(0)
    x, y = known_splits["train"]
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 1)),
        keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dropout(0.3),
        keras.layers.Dense(len(PEOPLE), activation="softmax"),
    ])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=40, batch_size=16, verbose=0)
    out = tmp_path_factory.mktemp("models")
    model.save(out / "model.keras")
    extract = ExtractParams(image_size=SIZE, color_mode="gray", min_face_size=40)
    (out / "model_meta.json").write_text(json.dumps({
        "classes": PEOPLE, "image_size": SIZE, "channels": 1,
        "extract": extract.model_dump(mode="json")}))
    return out


@pytest.fixture(scope="session")
def people() -> list[str]:
    return PEOPLE


@pytest.fixture(scope="session")
def unknown_faces_dir(tmp_path_factory, shared_datasets) -> Path:
    """A faces dir of 4 LFW people the model never saw (15 photos each) plus one known
    person, whom the open-set report must leave out by name."""
    others = ["Tony_Blair", "Gerhard_Schroeder", "Donald_Rumsfeld", "Jacques_Chirac", PEOPLE[0]]
    return faces_slice(tmp_path_factory.mktemp("unknown"), shared_datasets / "lfw-subset",
                       others, 0, 15)


@pytest.fixture(scope="session")
def unknown_faces_arrays(unknown_faces_dir) -> np.ndarray:
    x, y = load_faces(unknown_faces_dir)
    return x[y == -1]
