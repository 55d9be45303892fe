"""Tiny real TFRecords (3 LFW people, 32x32 gray) written by the write_tfrecords/augment code."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from starrec.config import AugmentParams, TfrecordsParams, TrainParams


@pytest.fixture(autouse=True)
def _restore_tracking(monkeypatch):
    """Tests point MLflow at their own sqlite store; put the global URI back afterwards."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    previous = mlflow.get_tracking_uri()
    yield
    mlflow.set_tracking_uri(previous)


def fast_params(**over) -> TrainParams:
    base = dict(epochs=2, batch_size=16, use_augmented=False, early_stopping_patience=5)
    return TrainParams(**{**base, **over})


@pytest.fixture(scope="session")
def tfrecord_dir(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from starrec.dataset.tfrecords import write_tfrecords

    manifest = pd.read_csv(faces_dir / "manifest.csv")
    classes = sorted(manifest["class"].unique())
    nth = manifest.groupby("class").cumcount()
    split = manifest.assign(
        label=manifest["class"].map(classes.index), group=manifest["face_id"],
        split=np.select([nth % 4 == 0, nth % 4 == 1], ["test", "val"], "train"))
    root = tmp_path_factory.mktemp("tfr")
    split.to_csv(root / "split.csv", index=False)
    write_tfrecords(TfrecordsParams(shard_size=20), faces_dir, root / "split.csv", root / "out")
    return root / "out"


@pytest.fixture(scope="session")
def augmented_dir(tfrecord_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from starrec.dataset.augment import augment

    out = tmp_path_factory.mktemp("aug") / "augmented"
    augment(AugmentParams(copies=1), tfrecord_dir, out)
    return out
