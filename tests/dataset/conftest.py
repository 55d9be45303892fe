"""Shared fixture: TFRecords of the session's 3-person faces dir."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from starrec.config import TfrecordsParams
from starrec.dataset.tfrecords import write_tfrecords


@pytest.fixture(scope="module")
def tfrecord_dir(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TFRecords of the 3-person faces dir; per class the first 60% train, then 20/20."""
    tmp = tmp_path_factory.mktemp("tfr")
    faces = pd.read_csv(faces_dir / "manifest.csv").sort_values("face_id")
    classes = sorted(faces["class"].unique())
    rank = faces.groupby("class").cumcount() / faces.groupby("class")["face_id"].transform("size")
    pd.DataFrame({"face_id": faces["face_id"], "class": faces["class"],
                  "label": faces["class"].map(classes.index), "path": faces["path"],
                  "split": np.select([rank < 0.6, rank < 0.8], ["train", "val"], "test"),
                  "group": faces["face_id"]}).to_csv(tmp / "split.csv", index=False)
    write_tfrecords(TfrecordsParams(shard_size=10), faces_dir, tmp / "split.csv", tmp / "tfr")
    return tmp / "tfr"
