"""Real `dvc repro` of download + extract_faces in a temp git repo: the second run does
nothing, and a photo added to the source folder (outside the repo) re-runs both."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from helpers.dvc_repo import make_repo, run, stages_run

from starrec.artifacts import PUBLIC, STARS

STAGES = [f"download@{STARS}", f"extract_faces@{STARS}"]


@pytest.fixture()
def photo_folder(tmp_path: Path, shared_datasets: Path) -> Path:
    folder = tmp_path / "photos"
    for person in ("Colin_Powell", "Tony_Blair"):
        (folder / person).mkdir(parents=True)
        for photo in sorted((shared_datasets / "lfw-original-10x10" / person).glob("*.jpg"))[:4]:
            shutil.copy(photo, folder / person / photo.name)
    return folder


def test_repro_download_and_extract_then_nothing(tmp_path: Path, photo_folder: Path,
                                                 shared_datasets: Path) -> None:
    repo = make_repo(tmp_path / "repo", {
        "datasets": {STARS: {"download": {"folder": {"path": str(photo_folder)},
                                          "min_images_per_class": 0}},
                     PUBLIC: {"download": {"folder": {"path": str(shared_datasets)}}}},
        "extract": {"n_jobs": 1}})
    first = run(["dvc", "repro", STAGES[-1]], repo)
    assert stages_run(first.stdout) == STAGES

    raw = pd.read_csv(repo / "data/raw/manifest.csv")
    assert (raw["status"] == "ok").sum() == 8
    faces = pd.read_csv(repo / "data/faces/manifest.csv")
    ok = faces[faces["status"] == "ok"]
    assert set(ok["class"]) == {"Colin_Powell", "Tony_Blair"}
    assert len(ok) >= 7  # LFW photos are centred faces: nearly all must be found
    assert all((repo / "data/faces" / p).is_file() for p in ok["path"])
    assert (repo / "data/faces/preview.png").stat().st_size > 0
    assert STAGES[-1] in (repo / "dvc.lock").read_text()

    manifest_mtime = (repo / "data/faces/manifest.csv").stat().st_mtime_ns
    second = run(["dvc", "repro", STAGES[-1]], repo)
    assert stages_run(second.stdout) == []
    assert (repo / "data/faces/manifest.csv").stat().st_mtime_ns == manifest_mtime
    assert "up to date" in run(["dvc", "status", STAGES[-1]], repo).stdout

    # the source folder lies outside the repo, yet it is a declared dependency
    new = shared_datasets / "lfw-original-10x10" / "Tony_Blair"
    shutil.copy(sorted(new.glob("*.jpg"))[5], photo_folder / "Tony_Blair")
    status = run(["dvc", "status", "--with-deps", STAGES[-1]], repo).stdout
    assert f"{STAGES[0]}:" in status and str(photo_folder) in status
    third = run(["dvc", "repro", STAGES[-1]], repo)
    assert stages_run(third.stdout) == STAGES
    assert (pd.read_csv(repo / "data/raw/manifest.csv")["status"] == "ok").sum() == 9
