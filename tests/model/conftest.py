"""A small real backbone for the enrolment tests: LFW photos through the real extract_faces
(Haar), write_tfrecords and pretrain stages, so enrolment's detected faces are cut exactly
like the faces the backbone learnt from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from helpers.face_models import cfg, lfw, lfw_sface, lfw_stars, sface, yunet  # noqa: F401
from helpers.faces import copy_photos, make_raw, split_table
from helpers.head import sface_model_with_impostors
from helpers.params import section, stage_config
from helpers.pretrain import NO_AUGMENT, PEOPLE, tiny_params
from helpers.stages import extract_faces, run_main, tfrecords_of
from helpers.tracking import store

from starrec.artifacts import BACKBONE, PUBLIC, STARS

PUBLIC_PHOTOS = 30  # photos 0..29 of each person build the public set


@pytest.fixture(scope="session")
def backbone_path(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """models/backbone.keras (+ meta, impostors, report) trained for a few seconds on 6 LFW
    people: 4 trained on, 2 held out (the impostor bank)."""
    tmp = tmp_path_factory.mktemp("public")
    photos = [f for person in PEOPLE for f in
              sorted((shared_datasets / "lfw-subset" / person).glob("*.jpg"))[:PUBLIC_PHOTOS]]
    extract = section("extract", detector="haar", image_size=32, color_mode="gray",
                      min_face_size=40, policy="largest", n_jobs=1)
    faces = extract_faces(extract, make_raw(tmp / "raw", copy_photos(photos)), tmp / "faces")
    ok = pd.read_csv(faces / "manifest.csv").query("status == 'ok'")
    ok.to_csv(faces / "manifest.csv", index=False)
    table = split_table(faces, lambda rank, n: "val" if rank % 5 == 4 else "train")
    tfrecords = tfrecords_of(faces, table, tmp, shard_size=100)

    stars = tmp / "stars"
    stars.mkdir()
    pd.DataFrame({"class": ["nobody"], "status": ["ok"]}).to_csv(stars / "manifest.csv")
    cfg = stage_config(tmp, datasets={PUBLIC: {"paths": {"tfrecords": str(tfrecords)}},
                                      STARS: {"paths": {"raw": str(stars)}}})
    run_main("pretrain", cfg.model_copy(update={
        "extract": extract, "mlflow": store(tmp / "mlflow"),
        "pretrain": tiny_params(epochs=15, augment=NO_AUGMENT)}))
    shutil.rmtree(tmp / "raw")
    return cfg.paths.models / BACKBONE


@pytest.fixture(scope="session")
def sface_model(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """models/model.keras: a head on SFace embeddings of 3 LFW people, with the impostor bank
    of 30 other LFW people (helpers.head); ENROLL_PEOPLE are in neither."""
    return sface_model_with_impostors(tmp_path_factory.mktemp("sface_model"),
                                      shared_datasets / "lfw-subset")
