"""Tiny real-face data for the pretrain tests: LFW crops (conftest.make_faces_dir) as arrays
and as the public set's TFRecords."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from starrec.config import PretrainAugment, PretrainParams, TfrecordsParams

_spec = importlib.util.spec_from_file_location("_root_conftest", Path(__file__).parents[1] / "conftest.py")
_root = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_root)
make_faces_dir = _root.make_faces_dir

PEOPLE = {"Ariel_Sharon": 24, "Hugo_Chavez": 24, "Colin_Powell": 24, "Tony_Blair": 24,
          "Gerhard_Schroeder": 24, "Donald_Rumsfeld": 24}


def tiny_params(**over) -> PretrainParams:
    """A backbone small enough to train in seconds on 32x32 faces."""
    base = dict(embedding_dim=32, widths=[16, 32, 64], dropout=0.0, l2=0.0, epochs=2,
                batch_size=32, learning_rate=3e-3, arc_scale=16.0, arc_margin=0.1, pairs=200,
                holdout_people=0.34, augment=PretrainAugment(rotation_deg=5.0, zoom=0.05,
                                                             translation=0.05))
    return PretrainParams(**{**base, **over})


def load_arrays(faces: Path) -> tuple[np.ndarray, np.ndarray]:
    df = pd.read_csv(faces / "manifest.csv")
    x = np.stack([np.asarray(Image.open(faces / p), dtype=np.float32)[..., None] / 255.0
                  for p in df["path"]])
    return x, df["class"].to_numpy()


@pytest.fixture(scope="session")
def public_faces(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    return make_faces_dir(tmp_path_factory.mktemp("public_faces"),
                          shared_datasets / "lfw-subset", PEOPLE)


@pytest.fixture(scope="session")
def public_tfrecords(tmp_path_factory: pytest.TempPathFactory, public_faces: Path) -> Path:
    """The public faces through the real write_tfrecords code (a 60/20/20 photo split)."""
    from starrec.dataset.tfrecords import write_tfrecords

    df = pd.read_csv(public_faces / "manifest.csv")
    classes = sorted(df["class"].unique())
    rank = df.groupby("class").cumcount() % 5
    split = np.where(rank < 3, "train", np.where(rank == 3, "val", "test"))
    table = pd.DataFrame({"face_id": df["face_id"], "class": df["class"],
                          "label": df["class"].map(classes.index), "path": df["path"],
                          "split": split})
    split_csv = tmp_path_factory.mktemp("splits") / "split.csv"
    table.to_csv(split_csv, index=False)
    out = tmp_path_factory.mktemp("public") / "tfrecords"
    write_tfrecords(TfrecordsParams(shard_size=50), public_faces, split_csv, out)
    return out
