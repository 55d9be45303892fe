"""The data stages are written in two pipeline files, dvc.yaml (on `datasets.stars`) and
research/dvc.yaml (on `datasets.public`): this test is their one source of truth — the two
`do:` blocks must be the same, apart from research's `wdir: ..` — so a dep or param added
to one and not the other fails here instead of re-running one pipeline for nothing."""

from __future__ import annotations

import yaml
from helpers.paths import REPO_ROOT

DATA_STAGES = ("download", "extract_faces", "embed", "validate", "split", "write_tfrecords")


def stages(path: str) -> dict:
    return yaml.safe_load((REPO_ROOT / path).read_text())["stages"]


def test_data_stage_blocks_are_the_same_in_both_pipeline_files() -> None:
    default, research = stages("dvc.yaml"), stages("research/dvc.yaml")
    for name in DATA_STAGES:
        assert default[name]["foreach"] == {"stars": "${datasets.stars}"}
        assert research[name]["foreach"] == {"public": "${datasets.public}"}
        theirs = dict(research[name]["do"])
        assert theirs.pop("wdir") == ".."
        assert default[name]["do"] == theirs, f"{name}: dvc.yaml and research/dvc.yaml differ"
