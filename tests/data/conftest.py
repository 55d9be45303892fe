"""The data sets the expectations run on: a tiny one built here by the real data stages
(download → extract_faces → validate → split → write_tfrecords on real LFW photos), and
every data set of params.yaml that `dvc repro` has already built in this checkout."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from helpers.params import config, stage_config
from helpers.paths import REPO_ROOT, shared_datasets
from helpers.stages import run_main

from starrec.artifacts import STARS
from starrec.config import Config

DATA_STAGES = ("download", "extract_faces", "embed", "validate", "split", "write_tfrecords")
TINY_PEOPLE = ["Colin_Powell", "George_W_Bush", "Tony_Blair"]


@dataclass(frozen=True)
class Built:
    name: str
    cfg: Config  # its params; paths absolute


def _built_here() -> list[str]:
    """The params.yaml data sets whose TFRecords exist in this checkout."""
    return [name for name in config().datasets
            if (REPO_ROOT / config(name).paths.tfrecords / "schema.json").is_file()]


@pytest.fixture(scope="session", params=["tiny", *_built_here()])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    if request.param != "tiny":
        cfg = config(request.param)
        paths = {k: REPO_ROOT / v for k, v in cfg.paths.model_dump().items()}
        return Built(request.param, cfg.model_copy(update={
            "paths": cfg.paths.model_copy(update=paths)}))
    cfg = stage_config(tmp_path_factory.mktemp("built"),
                       datasets={STARS: {"download": {
                           "folder": {"path": str(shared_datasets() / "lfw-original-10x10")},
                           "classes": TINY_PEOPLE, "min_images_per_class": 0}}},
                       extract={"n_jobs": 1},
                       validate={"min_images_per_class": 5})
    for stage in DATA_STAGES:
        run_main(stage, cfg)
    return Built("tiny", cfg)
