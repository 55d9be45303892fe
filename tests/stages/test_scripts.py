"""The stage scripts as DVC runs them (`python pipelines/<stage>.py` in a folder with a
params.yaml): outputs written, and a clear one-line failure with exit code 1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
from helpers.params import write_params

from starrec.artifacts import STARS

CLASSES = ["Ariel_Sharon", "Colin_Powell", "Hugo_Chavez"]


def test_download_script_fails_with_one_clear_line(tmp_path: Path, repo_root: Path) -> None:
    write_params(tmp_path, datasets={STARS: {"download": {"folder": {"path": "no/such/dir"}}}})
    proc = subprocess.run([sys.executable, str(repo_root / "pipelines" / "download.py")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    said = " ".join((proc.stdout + proc.stderr).split())  # rich wraps long lines
    assert proc.returncode == 1
    assert "no/such/dir: no such folder or archive (the data set's download.folder.path)" in said
    assert "Traceback" not in said


def test_validate_script_exits_nonzero_with_summary(faces_dir: Path, tmp_path: Path,
                                                     repo_root: Path) -> None:
    """`python pipelines/validate.py` reads params.yaml and the raw manifest's classes."""
    shutil.copytree(faces_dir, tmp_path / "faces")
    (tmp_path / "raw").mkdir()
    pd.DataFrame({"class": CLASSES, "status": "ok"}).to_csv(tmp_path / "raw/manifest.csv", index=False)
    paths = {"raw": "raw", "faces": "faces", "validation": "validation"}
    params = {"datasets": {STARS: {"paths": paths, "download": {"classes": []}}},
              "extract": {"image_size": 32}, "validate": {"min_images_per_class": 10}}
    write_params(tmp_path, **params)
    script = str(repo_root / "pipelines" / "validate.py")
    ok = subprocess.run([sys.executable, script], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads((tmp_path / "validation/summary.json").read_text())["success"] is True

    params["validate"]["min_images_per_class"] = 26
    write_params(tmp_path, **params)
    bad = subprocess.run([sys.executable, script], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "Colin_Powell: count=20" in bad.stdout + bad.stderr


def test_split_script_writes_the_split(faces_dir: Path, tmp_path: Path, repo_root: Path) -> None:
    shutil.copytree(faces_dir, tmp_path / "faces")
    faces = pd.read_csv(tmp_path / "faces/manifest.csv")
    (tmp_path / "embeddings").mkdir()  # the embed stage's cleaning, flagging nothing
    pd.DataFrame({"face_id": faces["face_id"], "class": faces["class"], "flag": "", "reason": "",
                  "status": "ok"}).to_csv(tmp_path / "embeddings/clean.csv", index=False)
    write_params(tmp_path, datasets={STARS: {"paths": {"faces": "faces", "splits": "splits",
                                                       "embeddings": "embeddings"}}},
                 split={"seed": 1})
    done = subprocess.run([sys.executable, str(repo_root / "pipelines" / "split.py")],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "splits/stats.json").read_text())["totals"]["all"] == 75
