"""A small real backbone for the enrolment tests: LFW photos through the real extract_faces
(Haar) and write_tfrecords code, then the real pretrain stage — so enrolment's detected faces
are cut exactly like the faces the backbone learnt from."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from starrec.config import ExtractParams, MlflowParams, PretrainAugment, TfrecordsParams

_spec = importlib.util.spec_from_file_location(
    "_pretrain_conftest", Path(__file__).parents[1] / "pretrain" / "conftest.py")
_pre = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_pre)

PEOPLE = list(_pre.PEOPLE)
PUBLIC_PHOTOS = 30  # photos 0..29 of each person build the public set
EXTRACT = ExtractParams(image_size=32, n_jobs=1)


@pytest.fixture(scope="session")
def backbone_path(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """models/backbone.keras (+ meta, impostors, report) trained for a few seconds on 6 LFW
    people: 4 trained on, 2 held out (the impostor bank)."""
    from starrec.dataset.tfrecords import write_tfrecords
    from starrec.faces.extract import extract_faces
    from starrec.pretrain.stage import pretrain

    tmp = tmp_path_factory.mktemp("public")
    rows = []
    for person in PEOPLE:
        (tmp / "raw" / person).mkdir(parents=True)
        for photo in sorted((shared_datasets / "lfw-subset" / person).glob("*.jpg"))[:PUBLIC_PHOTOS]:
            shutil.copy(photo, tmp / "raw" / person / photo.name)
            rows.append({"class": person, "source": str(photo), "path": f"{person}/{photo.name}",
                         "status": "ok", "reason": "", "bytes": photo.stat().st_size,
                         "sha256": hashlib.sha256(photo.read_bytes()).hexdigest()})
    pd.DataFrame(rows).to_csv(tmp / "raw" / "manifest.csv", index=False)
    faces = extract_faces(EXTRACT, tmp / "raw", tmp / "faces")

    df = pd.read_csv(faces / "manifest.csv", dtype=str)
    df = df[df["status"] == "ok"].reset_index(drop=True)
    split = np.where(df.groupby("class").cumcount() % 5 < 4, "train", "val")
    table = df[["face_id", "class", "path"]].assign(
        label=df["class"].map(sorted(PEOPLE).index), split=split)
    table.to_csv(tmp / "split.csv", index=False)
    write_tfrecords(TfrecordsParams(shard_size=100), faces, tmp / "split.csv", tmp / "tfrecords")

    stars = tmp / "stars.csv"
    pd.DataFrame({"class": ["nobody"], "status": ["ok"]}).to_csv(stars, index=False)
    cfg = _pre.tiny_params(epochs=15, augment=PretrainAugment(
        flip=True, rotation_deg=0.0, zoom=0.0, translation=0.0, contrast=0.0, brightness=0.0))
    pretrain(cfg, EXTRACT, MlflowParams(tracking_uri=f"sqlite:///{tmp}/mlflow.db"),
             tmp / "tfrecords", stars, tmp / "models")
    return tmp / "models" / "backbone.keras"
