"""Real `dvc repro` up to split on a few scraped five-celebrity classes with one photo filed
under the wrong star: the embed stage's contract (npz per embedder, meta.json, clean.csv,
flagged.png) and split leaving out what cleaning excluded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from helpers.dvc_repo import make_repo, run, stages_run

from starrec.artifacts import PUBLIC, STARS
from starrec.faces.model_files import artifact

CLASSES = ("jerry_seinfeld", "madonna", "mindy_kaling")
WRONG = "madonna/wrong_star.jpg"  # a Jerry Seinfeld photo filed under Madonna


def test_embed_contract_and_split_leaves_out_what_cleaning_excluded(tmp_path: Path,
                                                                    five: Path) -> None:
    folder = tmp_path / "photos"
    for cls in CLASSES:
        (folder / cls).mkdir(parents=True)
        for photo in sorted((five / "train" / cls).glob("*.jpg"))[:7]:
            shutil.copy(photo, folder / cls / photo.name)
    shutil.copy(sorted((five / "val" / "jerry_seinfeld").glob("*.jpg"))[0], folder / WRONG)
    repo = make_repo(tmp_path / "repo", {
        "datasets": {STARS: {"download": {"folder": {"path": str(folder)},
                                          "min_images_per_class": 0}},
                     PUBLIC: {"download": {"folder": {"path": str(folder)}}}},
        "extract": {"n_jobs": 1}, "validate": {"min_images_per_class": 3},
        "clean": {"policy": "drop"}})
    out = run(["dvc", "repro", f"split@{STARS}"], repo)
    assert f"embed@{STARS}" in stages_run(out.stdout)

    faces = pd.read_csv(repo / "data/faces/manifest.csv", dtype=str, keep_default_na=False)
    ok = faces[faces["status"] == "ok"]
    npz = np.load(repo / "data/embeddings/sface.npz")
    assert list(npz["face_id"]) == list(ok["face_id"])  # manifest order
    assert npz["x"].dtype == np.float32 and npz["x"].shape == (len(ok), 128)
    assert np.allclose(np.linalg.norm(npz["x"], axis=1), 1.0, atol=1e-5)
    meta = json.loads((repo / "data/embeddings/meta.json").read_text())
    assert meta["sface"]["dim"] == 128 and meta["sface"]["input"]["size"] == 112
    assert meta["sface"]["model_sha256"] == artifact("sface").sha256 and meta["sface"]["licence"]

    clean = pd.read_csv(repo / "data/embeddings/clean.csv", dtype=str, keep_default_na=False)
    assert list(clean["face_id"]) == list(ok["face_id"])
    wrong = clean[ok["source_path"].to_numpy() == WRONG]
    assert len(wrong) and (wrong["status"] == "excluded").all() and (wrong["flag"] != "").all()
    assert (repo / "data/embeddings/flagged.png").stat().st_size > 0

    split = pd.read_csv(repo / "data/splits/split.csv", dtype=str, keep_default_na=False)
    left_out = set(clean.loc[(clean["status"] == "excluded") | (clean["flag"] == "other_person"),
                             "face_id"])
    assert left_out and not left_out & set(split["face_id"])
    assert set(split["face_id"]) == set(ok["face_id"]) - left_out
    assert stages_run(run(["dvc", "repro", f"split@{STARS}"], repo).stdout) == []
