"""Data-set faults: one photo under two people, a class with nothing usable, identical crops
from two files, a class too small to split, and out-of-range params."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers.faces import make_faces_dir, make_raw, read_manifest
from helpers.faults import Case, case, cases
from helpers.http_routes import jpeg
from helpers.params import deep_update, raw_params, section, write_params
from helpers.stages import download, download_params, extract_faces, split, validate
from PIL import Image

from starrec.config import ConfigError, load_config
from starrec.errors import StageError


def folder(tmp: Path, files: dict[str, bytes]) -> Path:
    root = tmp / "photos"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def params(tmp: Path, root: Path, **over: object):
    return download_params(**{"source": "folder", "folder": {"path": str(root)},
                              "cache_dir": str(tmp / "cache"), "min_images_per_class": 0, **over})


def rows_of(out: Path) -> dict[str, tuple[str, str]]:
    m = pd.read_csv(out / "manifest.csv", keep_default_na=False)
    return {s.split("/photos/", 1)[1]: (st, r) for s, st, r in m[["source", "status", "reason"]].values}


SHARED = jpeg(9)
FILES = {"alice/a1.jpg": jpeg(1), "alice/a2.jpg": jpeg(2), "alice/same.jpg": SHARED,
         "bob/b1.jpg": jpeg(3), "bob/b2.jpg": jpeg(4), "bob/same.jpg": SHARED}


@cases("policy", {
    "drop_both": ("drop_both", Case("download", "one photo (same sha256) under two classes, "
                                    "download.conflicts drop_both",
                                    "both rows `conflict`, each naming the other file and class; "
                                    "a warning names both files; the other photos kept")),
    "keep_first": ("keep_first", Case("download", "one photo under two classes, download.conflicts "
                                      "keep_first", "the first class (name order) keeps it, the "
                                      "other row `conflict` naming it; a warning says so")),
})
def test_one_photo_under_two_classes_is_a_reported_conflict(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, policy: str) -> None:
    root = folder(tmp_path, FILES)
    with caplog.at_level(logging.WARNING, logger="starrec"):
        rows = rows_of(download(params(tmp_path, root, conflicts=policy), tmp_path / "raw"))
    why = "same content as {} of class {} (download.conflicts=%s)" % policy
    bob = ("conflict", why.format(root / "alice/same.jpg", "alice"))
    alice = (("conflict", why.format(root / "bob/same.jpg", "bob")) if policy == "drop_both"
             else ("ok", ""))
    assert rows["alice/same.jpg"] == alice and rows["bob/same.jpg"] == bob
    assert all(rows[f] == ("ok", "") for f in FILES if "same" not in f)
    said = [r.getMessage() for r in caplog.records if "one photo under classes" in r.getMessage()]
    assert said == [f"one photo under classes alice, bob: {root}/alice/same.jpg, {root}/bob/same.jpg; "
                    + ("dropped" if policy == "drop_both" else "kept in class alice only")
                    + f" (download.conflicts={policy})"]


@case("download", "a wanted class whose only photo is another class's photo",
      "StageError (exit 1) naming the class, the conflicting file and the fix; this run's "
      "manifest written to the cache; the previous raw dir kept")
def test_class_with_zero_ok_images_says_why_and_keeps_its_manifest(tmp_path: Path) -> None:
    root = folder(tmp_path, {**FILES, "carol/only.jpg": jpeg(1)})
    (tmp_path / "raw").mkdir()
    with pytest.raises(StageError) as err:
        download(params(tmp_path, root, conflicts="keep_first"), tmp_path / "raw")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(
        f"{tmp_path / 'raw'}: class carol: zero ok images (1 conflict; first: "
        f"{root}/carol/only.jpg: same content as {root}/alice/a1.jpg of class alice "
        "(download.conflicts=keep_first)); fix its files, or leave it out with "
        "download.classes or download.min_images_per_class (every item's status: ")
    failed = pd.read_csv(message.rsplit(": ", 1)[1].rstrip(")"), keep_default_na=False)
    assert len(failed) == len(FILES) + 1
    assert list((tmp_path / "raw").iterdir()) == []


@case("download", "items of classes not in download.classes",
      "one `class_dropped` row each (not read); the selected classes kept")
def test_unselected_classes_keep_their_rows(tmp_path: Path) -> None:
    root = folder(tmp_path, FILES)
    rows = rows_of(download(params(tmp_path, root, classes=["bob"]), tmp_path / "raw"))
    assert {f: r for f, r in rows.items() if f.startswith("alice")} == {
        f: ("class_dropped", "class not in download.classes") for f in FILES if f.startswith("alice")}
    assert {f for f, r in rows.items() if r[0] == "ok"} == {"bob/b1.jpg", "bob/b2.jpg", "bob/same.jpg"}


@case("extract_faces, validate", "a JPEG and its RGBA PNG copy: two files, one face crop",
      "validate passes; the pair listed in summary.json `duplicate_crops` and a warning "
      "(split keeps them in one group)")
def test_identical_crops_are_a_recorded_duplicate(tmp_path: Path, shared_datasets: Path) -> None:
    photos = sorted((shared_datasets / "lfw-original-10x10" / "Colin_Powell").glob("*.jpg"))[:3]
    rgba = io.BytesIO()
    Image.open(photos[0]).convert("RGBA").save(rgba, "PNG")
    raw = make_raw(tmp_path / "raw", [("colin", p.name, p.read_bytes()) for p in photos]
                   + [("colin", "copy.png", rgba.getvalue())])
    faces = extract_faces(section("extract", n_jobs=1), raw, tmp_path / "faces")
    ok = read_manifest(faces).query("status == 'ok'")
    summary = validate(section("validate", min_images_per_class=1), faces, ["colin"], 112,
                       tmp_path / "validation")
    assert summary["success"] is True and summary["faces"] == len(ok) == 4
    assert [g["face_ids"] for g in summary["duplicate_crops"]] == [
        ["colin/Colin_Powell_0001_f0", "colin/copy_f0"]]


@case("split", "a class with one photo (validate.min_images_per_class lowered to let it by)",
      "StageError (exit 1) naming the class and the fix: download.classes or "
      "download.min_images_per_class; no split written")
def test_one_photo_class_names_the_fix(tmp_path: Path, shared_datasets: Path) -> None:
    faces = make_faces_dir(tmp_path / "faces", shared_datasets / "lfw-subset",
                           {"Ariel_Sharon": 10, "Hugo_Chavez": 1})
    with pytest.raises(StageError) as err:
        split(section("split"), faces / "manifest.csv", tmp_path / "splits")
    assert str(err.value) == (
        f"{faces / 'manifest.csv'}: too few faces to appear in every split (train, val, test): "
        "'Hugo_Chavez' (1 faces); leave such classes out with download.classes or a higher "
        "download.min_images_per_class")
    assert not (tmp_path / "splits").exists()


BAD_PARAMS = {
    "extract.image_size": 0, "train.epochs": 0, "train.batch_size": 0, "extract.n_jobs": 0,
    "predict.video_every": 0, "evaluate.gate.margin": -0.5, "pretrain.arc_margin": -0.2,
    "extract.margin": -0.1, "augment.copies": 0, "predict.max_frames": -1,
    "datasets.stars.download.min_images_per_class": -3, "download.max_image_pixels": 0,
    "download.conflicts": "first_wins",
}


def nested(key: str, value: object) -> dict:
    update: dict = {key.rsplit(".", 1)[-1]: value}
    for parent in reversed(key.split(".")[:-1]):
        update = {parent: update}
    return update


@cases("key", {k: (k, Case("params", f"`{k}: {v}` in params.yaml",
                           "ConfigError: one line naming the file and the key"))
               for k, v in BAD_PARAMS.items()})
def test_out_of_range_param_is_one_line_naming_the_key(tmp_path: Path, key: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(deep_update(raw_params(), nested(key, BAD_PARAMS[key]))))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}: invalid params ({key}: ") and "\n" not in message


@case("params", "a bad value read by a stage script (`extract.n_jobs: 0`)",
      "exit status 1, one error line naming the key, no traceback, nothing written")
def test_stage_script_exits_1_on_bad_params(tmp_path: Path, repo_root: Path) -> None:
    write_params(tmp_path, **nested("extract.n_jobs", 0))
    proc = subprocess.run([sys.executable, str(repo_root / "pipelines" / "extract_faces.py")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == 1
    assert "params.yaml: invalid params (extract.n_jobs: Input should be greater than 0)" in said
    assert "Traceback" not in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
