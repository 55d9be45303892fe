"""Stage `validate`: real great-expectations suites over a faces dir built from LFW photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from helpers.params import section
from helpers.stages import validate

from starrec.dataset.validate import configured_classes
from starrec.errors import StageError

CLASSES = ["Ariel_Sharon", "Colin_Powell", "Hugo_Chavez"]


@pytest.fixture()
def faces(tmp_path: Path, faces_dir: Path) -> Path:
    """A private copy of the session faces dir, safe to mutate."""
    return Path(shutil.copytree(faces_dir, tmp_path / "faces"))


def edit_manifest(faces: Path, edit) -> None:
    manifest = pd.read_csv(faces / "manifest.csv", dtype={"sha256": str, "phash": str})
    edit(manifest)
    manifest.to_csv(faces / "manifest.csv", index=False)


def failure(faces: Path, out: Path, classes=CLASSES, **params) -> str:
    with pytest.raises(StageError) as err:
        validate(section("validate", **params), faces, classes, 32, out)
    summary = json.loads((out / "summary.json").read_text())  # outputs kept for the person
    assert summary["success"] is False
    assert (out / "data_docs" / "index.html").is_file()
    return str(err.value)


def test_good_faces_pass_and_write_results_and_docs(faces: Path, tmp_path: Path) -> None:
    out = tmp_path / "validation"
    summary = validate(section("validate"), faces, CLASSES, 32, out)

    assert summary["success"] is True
    assert summary["faces"] == 75
    assert summary["class_counts"] == {"Ariel_Sharon": 30, "Colin_Powell": 20, "Hugo_Chavez": 25}
    assert len(summary["expectations"]) > 40 and all(c["success"] for c in summary["expectations"])
    assert summary == json.loads((out / "summary.json").read_text())
    result = json.loads((out / "result.json").read_text())
    assert result["faces"]["success"] and result["class_counts"]["success"]
    assert result["faces"]["statistics"]["evaluated_expectations"] == len(summary["expectations"]) - 1
    pages = [p.name for p in (out / "data_docs" / "validations").rglob("*.html")]
    assert len(pages) == 2  # one page per validated table
    assert "faces" in (out / "data_docs" / "index.html").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".validation")]  # no temp left


def test_failure_rows_are_not_validated_as_faces(faces: Path, tmp_path: Path) -> None:
    def add_failure(m: pd.DataFrame) -> None:
        m.loc[len(m)] = {"face_id": "", "class": "Hugo_Chavez", "path": None, "status": "no_face",
                         "reason": "no face found", "source_path": "Hugo_Chavez/x.jpg"}
    edit_manifest(faces, add_failure)
    assert validate(section("validate"), faces, CLASSES, 32, tmp_path / "v")["faces"] == 75


def test_missing_class_fails_naming_it(faces: Path, tmp_path: Path) -> None:
    message = failure(faces, tmp_path / "v", classes=CLASSES + ["Tony_Blair"])
    assert "1 of 52" in message
    assert "class_counts: expect_column_values_to_be_between(count, min_value=10" in message
    assert "1 of 4 rows fail, e.g. Tony_Blair: count=0" in message


def test_class_not_configured_fails(faces: Path, tmp_path: Path) -> None:
    message = failure(faces, tmp_path / "v", classes=["Ariel_Sharon", "Hugo_Chavez"])
    assert "expect_column_values_to_be_in_set(class" in message
    assert "20 of 75 rows fail, e.g. Colin_Powell/Colin_Powell_0001_f0: class=Colin_Powell" in message


def test_class_under_minimum_fails(faces: Path, tmp_path: Path) -> None:
    message = failure(faces, tmp_path / "v", min_images_per_class=21)
    assert "count, min_value=21" in message
    assert "1 of 3 rows fail, e.g. Colin_Powell: count=20; too few faces: leave the class out " \
           "with download.classes or a higher download.min_images_per_class" in message


def test_identical_crops_are_recorded_duplicates_not_a_failure(faces: Path, tmp_path: Path) -> None:
    """A JPEG and its PNG copy give the same crop: the split groups them, so validation
    passes and the summary lists them."""
    def duplicate(m: pd.DataFrame) -> None:
        m.loc[40, "sha256"] = m.loc[2, "sha256"]
    edit_manifest(faces, duplicate)
    manifest = pd.read_csv(faces / "manifest.csv")
    summary = validate(section("validate"), faces, CLASSES, 32, tmp_path / "v")
    assert summary["success"] is True
    assert summary["duplicate_crops"] == [{
        "sha256": manifest.loc[2, "sha256"],
        "face_ids": sorted([manifest.loc[2, "face_id"], manifest.loc[40, "face_id"]]),
        "classes": sorted({manifest.loc[2, "class"], manifest.loc[40, "class"]})}]


def test_missing_file_fails_naming_the_face(faces: Path, tmp_path: Path) -> None:
    (faces / "Hugo_Chavez" / "Hugo_Chavez_0003_f0.png").unlink()
    message = failure(faces, tmp_path / "v")
    assert ("expect_column_values_to_be_in_set(file_exists, value_set=[True]): 1 of 75 rows fail, "
            "e.g. Hugo_Chavez/Hugo_Chavez_0003_f0: file_exists=False") in message


def test_text_in_numeric_column_fails_the_type_check(faces: Path, tmp_path: Path) -> None:
    def text(m: pd.DataFrame) -> None:
        m["face_size"] = m["face_size"].astype(str)
        m.loc[5, "face_size"] = "big"
    edit_manifest(faces, text)
    message = failure(faces, tmp_path / "v")
    assert "expect_column_values_to_be_in_type_list(face_size" in message
    assert "75 of 75 rows fail" in message and "Ariel_Sharon_0006_f0: face_size=big" in message


def test_missing_column_and_wrong_image_size_fail(faces: Path, tmp_path: Path) -> None:
    edit_manifest(faces, lambda m: m.drop(columns=["phash"], inplace=True))
    with pytest.raises(StageError) as err:
        validate(section("validate"), faces, CLASSES, 64, tmp_path / "v")
    message = str(err.value)
    assert "expect_column_to_exist(phash): column missing" in message
    assert "expect_column_values_to_be_in_set(height, value_set=[64]): 75 of 75 rows fail" in message
    assert "expect_column_values_to_be_in_set(width, value_set=[64])" in message


def test_configured_classes_from_params_or_download_manifest(tmp_path: Path) -> None:
    raw = tmp_path / "manifest.csv"
    pd.DataFrame({"class": ["b", "a", "a", "c"], "status": ["ok", "ok", "ok", "error"]}).to_csv(raw)
    assert configured_classes([], raw) == ["a", "b"]
    assert configured_classes(["z", "y"], raw) == ["y", "z"]
    with pytest.raises(StageError, match="nope.csv: cannot read download manifest"):
        configured_classes([], tmp_path / "nope.csv")
