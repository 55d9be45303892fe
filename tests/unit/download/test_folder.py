"""The `folder` source on the real shared photo sets, and on small hand-made folders."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
from helpers.http_routes import jpeg
from helpers.stages import download, download_params

from starrec.config import DownloadParams
from starrec.errors import StageError

LFW_7 = {"Ariel_Sharon": 77, "Colin_Powell": 236, "Donald_Rumsfeld": 121, "George_W_Bush": 530,
         "Gerhard_Schroeder": 109, "Hugo_Chavez": 71, "Tony_Blair": 144}


def folder_params(tmp: Path, path: Path | str, **over: object) -> DownloadParams:
    return download_params(**{"source": "folder", "folder": {"path": str(path)},
                              "cache_dir": str(tmp / "cache"), "min_images_per_class": 0, **over})


def read(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "manifest.csv", keep_default_na=False)


def test_five_celebrity_faces_splits_are_merged_per_class(tmp_path: Path, shared_datasets: Path) -> None:
    src = shared_datasets / "five-celebrity-faces"
    out = download(folder_params(tmp_path, src), tmp_path / "raw")
    manifest = read(out)
    assert (manifest["status"] == "ok").all() and len(manifest) == 118
    assert manifest["class"].value_counts().to_dict() == {
        "mindy_kaling": 27, "jerry_seinfeld": 26, "madonna": 24, "elton_john": 22, "ben_afflek": 19}
    for _, row in manifest.iterrows():
        assert hashlib.sha256((out / row["path"]).read_bytes()).hexdigest() == row["sha256"]
        assert hashlib.sha256(Path(row["source"]).read_bytes()).hexdigest() == row["sha256"]
    png = manifest[manifest["source"].str.endswith("benafflekxpng.jpg")]  # a PNG named .jpg
    assert png["path"].item() == "ben_afflek/httpwwwrumenewscomwpcontentuploadsbenafflekxpng.png"
    assert len(list(out.rglob("*.*"))) == 119


def test_lfw_subset_min_70_keeps_the_classic_seven(tmp_path: Path, shared_datasets: Path) -> None:
    out = download(folder_params(tmp_path, shared_datasets / "lfw-subset", min_images_per_class=70),
                   tmp_path / "raw")
    manifest = read(out)
    ok = manifest[manifest["status"] == "ok"]
    assert ok["class"].value_counts().to_dict() == dict(sorted(LFW_7.items(), key=lambda kv: -kv[1]))
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == sorted(LFW_7)
    dropped = manifest[manifest["status"] != "ok"]  # one row per photo of the other classes
    assert set(dropped["status"]) == {"class_dropped"} and not set(dropped["class"]) & set(LFW_7)
    assert len(manifest) == sum(1 for _ in (shared_datasets / "lfw-subset").glob("*/*.jpg"))
    assert dropped["reason"].str.fullmatch(
        r"class has \d+ ok images < download.min_images_per_class 70").all()


@pytest.fixture()
def messy(tmp_path: Path, shared_datasets: Path) -> Path:
    """alice: 3 real photos + a copy + junk; bob: 2 photos; carol: only a text file."""
    root = tmp_path / "photos"
    for person, src in (("alice", "Colin_Powell"), ("bob", "Tony_Blair")):
        (root / person).mkdir(parents=True)
        for photo in sorted((shared_datasets / "lfw-original-10x10" / src).glob("*.jpg"))[:3]:
            shutil.copy(photo, root / person / photo.name)
    (root / "bob" / "Tony_Blair_0003.jpg").unlink()
    shutil.copy(root / "alice" / "Colin_Powell_0001.jpg", root / "alice" / "copy.jpg")
    (root / "alice" / "notes.txt").write_text("not a photo")
    (root / "alice" / "empty.jpg").write_bytes(b"")
    (root / "alice" / "cut.jpg").write_bytes((root / "alice" / "Colin_Powell_0002.jpg").read_bytes()[:3000])
    (root / "alice" / ".DS_Store").write_bytes(b"\0")
    (root / "carol").mkdir()
    (root / "carol" / "readme.md").write_text("# no photos yet")
    return root


def test_bad_files_are_recorded_and_an_empty_class_is_an_error(tmp_path: Path, messy: Path) -> None:
    with pytest.raises(StageError, match=r"class carol: zero ok images \(1 not_image; first: "
                       r".*carol/readme.md: not an image \(starts with"):
        download(folder_params(tmp_path, messy), tmp_path / "raw")
    assert not (tmp_path / "raw").exists()

    out = download(folder_params(tmp_path, messy, classes=["alice", "bob"]), tmp_path / "raw")
    status = {Path(s).name: (st, r) for s, st, r in read(out)[["source", "status", "reason"]].values}
    assert status["copy.jpg"] == ("duplicate", f"same content as {messy}/alice/Colin_Powell_0001.jpg")
    assert status["notes.txt"][0] == "not_image" and status["empty.jpg"] == ("not_image", "empty file")
    assert status["cut.jpg"][0] == "truncated"
    assert ".DS_Store" not in status
    assert sorted(read(out).query("status == 'ok'")["path"]) == [
        "alice/Colin_Powell_0001.jpg", "alice/Colin_Powell_0002.jpg", "alice/Colin_Powell_0003.jpg",
        "bob/Tony_Blair_0001.jpg", "bob/Tony_Blair_0002.jpg"]

    (messy / "dave").mkdir()
    with pytest.raises(StageError, match="class dave: zero ok images \\(no files\\)"):
        download(folder_params(tmp_path, messy, classes=["dave"]), tmp_path / "raw")
    with pytest.raises(StageError, match="no class folder for erin"):
        download(folder_params(tmp_path, messy, classes=["alice", "erin"]), tmp_path / "raw")
    with pytest.raises(StageError, match="no class has at least min_images_per_class=50"):
        download(folder_params(tmp_path, messy, min_images_per_class=50), tmp_path / "raw")
    assert len(read(out)) == 10  # the failed runs left the last good output alone
    assert read(out).query("`class` == 'carol'")[["status", "reason"]].values.tolist() == [
        ["class_dropped", "class not in download.classes"]]


def test_same_name_in_two_splits_is_kept_under_distinct_names(tmp_path: Path) -> None:
    for split, seed in (("train", 1), ("val", 2)):
        (tmp_path / "p" / split / "zed").mkdir(parents=True)
        (tmp_path / "p" / split / "zed" / "1.jpg").write_bytes(jpeg(seed))
    manifest = read(download(folder_params(tmp_path, tmp_path / "p"), tmp_path / "raw"))
    assert manifest["path"][0] == "zed/1.jpg"
    assert manifest["path"][1] == f"zed/1-{manifest['sha256'][1][:8]}.jpg"
