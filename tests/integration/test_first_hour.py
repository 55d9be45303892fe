"""A new user's first hour, as the README tells it, end to end and for real: clone the repo,
run the pipeline on a small data set, `starrec predict` with no `--model` names a star and
calls someone else `unknown`; then point the folder source at one's own photos of other
people, `dvc repro`, and `starrec predict` names the new stars. The clone carries git's
champion record of another data set and registry (LFW-7): it must not stand in the way."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers.dvc_repo import BIN, run
from helpers.params import deep_update
from helpers.paths import REPO_ROOT

pytestmark = pytest.mark.slow

FIRST_STARS = ["Angelina_Jolie", "Igor_Ivanov", "Michael_Bloomberg"]  # 20-26 photos each
OWN_STARS = ["ben_afflek", "madonna", "mindy_kaling"]  # five-celebrity-faces: web photos
NOISE = ("oneDNN", "absl::InitializeLog")


def small_params(shared: Path, photos: Path, classes: list[str]) -> dict:
    """What a user edits in params.yaml: the folder source and the held-out people; a weak
    eigenfaces baseline (one component) so the tiny test split cannot tie with the model."""
    return {
        "datasets": {"stars": {"download": {"folder": {"path": str(photos)},
                                            "classes": classes, "min_images_per_class": 0}}},
        "extract": {"n_jobs": 1},
        "validate": {"min_images_per_class": 5},
        "augment": {"copies": 1},
        "train": {"embedding_head": {"epochs": 10}},
        "evaluate": {"baseline_components": 1, "baseline_C": [1.0], "baseline_gamma": ["scale"],
                     "few_shot": 2},
        "predict": {"unknown": {"path": str(shared / "lfw-original-10x10"),
                                "max_per_person": 3}},
    }


def edit_params(clone: Path, update: dict) -> None:
    params = clone / "params.yaml"
    params.write_text(yaml.safe_dump(deep_update(yaml.safe_load(params.read_text()), update),
                                     sort_keys=False))


def predict(clone: Path, photo: Path, out: str) -> pd.DataFrame:
    """`starrec predict PHOTO` in the clone, no --model: the registry's champion."""
    done = run([str(BIN / "starrec"), "predict", str(photo), "--out", out], clone)
    assert not any(n in done.stderr + done.stdout for n in NOISE), done.stderr
    return pd.read_csv(clone / out / "predictions.csv", dtype=str, keep_default_na=False)


def repro(clone: Path) -> str:
    done = run(["dvc", "repro"], clone, COLUMNS="250")  # log lines unwrapped
    log = done.stdout + done.stderr
    assert not any(n in log for n in NOISE), "TensorFlow start-up lines in the stage logs"
    return log


def test_readme_journey_from_a_fresh_clone(tmp_path: Path, shared_datasets: Path) -> None:
    clone = tmp_path / "starrec"
    run(["git", "clone", "-q", str(REPO_ROOT), str(clone)], tmp_path)
    recorded = json.loads((clone / "models/champion.json").read_text())
    assert recorded, "git carries a champion of another data set and registry"

    lfw = shared_datasets / "lfw-subset"
    edit_params(clone, small_params(shared_datasets, lfw, FIRST_STARS))
    log = repro(clone)
    assert "the recorded champion, is not in the registry" in log
    gate = json.loads((clone / "reports/evaluation.json").read_text())["gate"]
    assert gate["promoted"] and gate["alias_moved"], gate["reason"]
    assert "the recorded champion is not in this registry" in gate["reason"]

    star = sorted((lfw / "Angelina_Jolie").glob("*.jpg"))[-1]
    stranger = sorted((lfw / "Serena_Williams").glob("*.jpg"))[0]  # nowhere in the data
    named = predict(clone, star, "predictions_star")
    assert list(named["label"]) == ["Angelina_Jolie"]
    other = predict(clone, stranger, "predictions_stranger")
    assert list(other["label"]) == ["unknown"]

    # one's own photos of other people: a folder per star, the folder source pointed at it
    own = tmp_path / "my_photos"
    for person in OWN_STARS:
        shutil.copytree(shared_datasets / "five-celebrity-faces" / "train" / person, own / person)
    edit_params(clone, small_params(shared_datasets, own, OWN_STARS))
    repro(clone)
    gate = json.loads((clone / "reports/evaluation.json").read_text())["gate"]
    assert gate["promoted"] and gate["alias_moved"], gate["reason"]
    assert "first model for this data set: the recorded champion is for 3 other classes" in \
        gate["reason"]
    assert json.loads((clone / "models/champion.json").read_text())["task"]["classes"] == OWN_STARS

    unseen = sorted((shared_datasets / "five-celebrity-faces" / "val" / "madonna").glob("*.jpg"))
    for i, photo in enumerate(unseen[:2]):  # web photos: other faces may be in them too
        assert "madonna" in set(predict(clone, photo, f"predictions_own_{i}")["label"])
