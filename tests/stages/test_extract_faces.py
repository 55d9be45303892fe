"""The extract_faces stage on real photo sets, and on bad files mixed in."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import imagehash
import pytest
from helpers.faces import FIVE_GRAY, FIVE_PNG_AS_JPG, copy_photos, make_raw, read_manifest
from helpers.params import section
from helpers.stages import extract_faces, run_with
from PIL import Image

from starrec.errors import StageError
from starrec.faces.extract import COLUMNS, LANDMARKS

CFG = section("extract", detector="haar", image_size=64, color_mode="gray", min_face_size=40,
              policy="largest", n_jobs=1)
YUNET = section("extract", detector="yunet", image_size=112, color_mode="rgb", n_jobs=2)


def test_lfw_faces_found_in_nearly_all_photos(lfw10_raw: Path, tmp_path: Path) -> None:
    out = extract_faces(CFG, lfw10_raw, tmp_path / "faces")
    df = read_manifest(out)
    assert list(df.columns) == COLUMNS
    ok = df[df["status"] == "ok"]
    assert ok["source_path"].nunique() >= 90  # of 100 photos
    assert (ok["class"].value_counts() >= 8).all() and ok["class"].nunique() == 10
    assert set(df.loc[df["status"] != "ok", "status"]) <= {"no_face"}
    for _, row in ok.iterrows():
        png = out / row["path"]
        assert row["face_id"] == f"{row['class']}/{Path(row['source_path']).stem}_f0"
        assert row["path"] == f"{row['face_id']}.png"
        assert hashlib.sha256(png.read_bytes()).hexdigest() == row["sha256"]
        img = Image.open(png)
        assert img.size == (64, 64) and img.mode == "L" and row["channels"] == "1"
        assert str(imagehash.phash(img)) == row["phash"]
        assert row["source_sha256"] == hashlib.sha256((lfw10_raw / row["source_path"]).read_bytes()).hexdigest()
        assert int(row["face_size"]) >= CFG.min_face_size and float(row["blur_var"]) > 0
    assert (out / "preview.png").stat().st_size > 10_000


def test_five_celebrity_faces_subset(five: Path, tmp_path: Path) -> None:
    """Web photos of any size; includes a PNG named .jpg (RGBA) and a grayscale JPEG."""
    files = sorted(five.glob("train/*/*.jpg"))[::3] + [five / FIVE_PNG_AS_JPG, five / FIVE_GRAY]
    raw = make_raw(tmp_path / "raw", copy_photos(files))
    df = read_manifest(extract_faces(CFG.model_copy(update={"color_mode": "rgb"}), raw,
                                     tmp_path / "faces"))
    ok = df[df["status"] == "ok"]
    assert ok["source_path"].nunique() >= 0.8 * len(files)
    for special in (FIVE_PNG_AS_JPG, FIVE_GRAY):
        rel = "/".join(Path(special).parts[1:])
        assert (ok["source_path"] == rel).any(), f"{rel}: no face"
    assert (ok["channels"] == "3").all()
    assert Image.open(tmp_path / "faces" / ok["path"].iloc[0]).mode == "RGB"


def test_yunet_saves_aligned_crops_and_landmarks(five: Path, lfw10: Path, tmp_path: Path) -> None:
    """Two worker processes load the model file the parent resolved; every face is the
    aligned 112x112 RGB crop, its 5 landmarks (photo pixels) inside its box, in order."""
    files = sorted(five.glob("train/*/*.jpg"))[::8]
    raw = make_raw(tmp_path / "raw", copy_photos(files))
    df = read_manifest(extract_faces(YUNET, raw, tmp_path / "faces"))
    ok = df[df["status"] == "ok"]
    assert list(df.columns) == COLUMNS and ok["source_path"].nunique() == len(files)
    for _, row in ok.iterrows():
        img = Image.open(tmp_path / "faces" / row["path"])
        assert img.size == (112, 112) and img.mode == "RGB" and row["detector"] == "yunet"
        x, y, w, h = (float(row[c]) for c in ("box_x", "box_y", "box_w", "box_h"))
        pts = [(float(row[f"lm{i}_x"]), float(row[f"lm{i}_y"])) for i in range(5)]
        assert all(x - 0.1 * w <= px <= x + 1.1 * w and y - 0.1 * h <= py <= y + 1.1 * h
                   for px, py in pts)
        assert pts[0][0] < pts[1][0] and pts[3][0] < pts[4][0]  # image-left first
        assert max(pts[0][1], pts[1][1]) < pts[2][1] < min(pts[3][1], pts[4][1])
    haar = read_manifest(extract_faces(CFG, make_raw(tmp_path / "lfw", copy_photos(
        sorted((lfw10 / "Colin_Powell").glob("*.jpg"))[:1])), tmp_path / "haar"))
    assert (haar[LANDMARKS] == "").all().all()


def test_wrong_yunet_model_file_is_one_stage_error(five: Path, tmp_path: Path) -> None:
    raw = make_raw(tmp_path / "raw", copy_photos(sorted(five.glob("train/*/*.jpg"))[:1]))
    bad = tmp_path / "yunet.onnx"
    bad.write_bytes(b"not a model")
    faces = section("faces", models={"paths": {"yunet": str(bad)}})
    with pytest.raises(StageError, match=f"{bad}.*sha256") as err:
        run_with("extract_faces", {"extract": YUNET, "faces": faces},
                 {"raw": raw, "faces": tmp_path / "faces"})
    assert "\n" not in str(err.value)


def test_bad_files_are_recorded_not_fatal(lfw10: Path, tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    good = sorted((lfw10 / "Colin_Powell").glob("*.jpg"))[:2]
    jpeg = good[0].read_bytes()
    raw = make_raw(tmp_path / "raw", copy_photos(good) + [
        ("Colin_Powell", "empty.jpg", b""),
        ("Colin_Powell", "notes.jpg", b"this is a text file, not a photo\n"),
        ("Colin_Powell", "cut.jpg", jpeg[: len(jpeg) // 3]),
        ("Colin_Powell", "wall.png", _png(Image.new("RGB", (300, 200), (120, 160, 90)))),
    ])
    (raw / "Colin_Powell" / "gone.jpg").write_bytes(jpeg)
    _append_row(raw, "Colin_Powell", "Colin_Powell/gone.jpg")
    (raw / "Colin_Powell" / "gone.jpg").unlink()  # listed in the manifest, missing on disk

    with caplog.at_level(logging.WARNING):
        df = read_manifest(extract_faces(CFG, raw, tmp_path / "faces")).set_index("source_path")
    assert (df.loc[[f"Colin_Powell/{f.name}" for f in good], "status"] == "ok").all()
    expected = {"empty.jpg": "empty file", "notes.jpg": "not a readable image",
                "cut.jpg": "not a readable image", "gone.jpg": "cannot read file"}
    for name, why in expected.items():
        row = df.loc[f"Colin_Powell/{name}"]
        assert row["status"] == "unreadable" and why in row["reason"] and row["path"] == ""
        assert any(name in r.getMessage() for r in caplog.records), f"{name} not logged"
    wall = df.loc["Colin_Powell/wall.png"]
    assert wall["status"] == "no_face" and "min_face_size" in wall["reason"]


def test_n_jobs_do_not_change_the_output(lfw10: Path, tmp_path: Path) -> None:
    raw = make_raw(tmp_path / "raw", copy_photos(sorted(lfw10.glob("*/*.jpg"))[::3]))
    one = extract_faces(CFG.model_copy(update={"policy": "all"}), raw, tmp_path / "one")
    two = extract_faces(CFG.model_copy(update={"policy": "all", "n_jobs": 2}), raw, tmp_path / "two")
    assert (one / "manifest.csv").read_bytes() == (two / "manifest.csv").read_bytes()
    assert (one / "preview.png").read_bytes() == (two / "preview.png").read_bytes()


def test_class_without_faces_warns_and_no_faces_at_all_fails(lfw10: Path, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    wall = _png(Image.new("RGB", (200, 200), (200, 200, 200)))
    raw = make_raw(tmp_path / "raw", copy_photos(sorted((lfw10 / "Tony_Blair").glob("*.jpg"))[:1])
                   + [("empty_class", "wall.png", wall)])
    with caplog.at_level(logging.WARNING):
        extract_faces(CFG, raw, tmp_path / "faces")
    assert any("empty_class" in r.getMessage() for r in caplog.records)

    walls = make_raw(tmp_path / "walls", [("a", "wall.png", wall), ("b", "wall.png", wall)])
    with pytest.raises(StageError, match="no face found in any of 2 photos"):
        extract_faces(CFG, walls, tmp_path / "none")
    assert not (tmp_path / "none").exists()  # nothing partial left behind


def test_same_stem_twice_in_a_class_gets_distinct_face_ids(lfw10: Path, tmp_path: Path) -> None:
    photo = lfw10 / "Tony_Blair" / "Tony_Blair_0002.jpg"
    as_png = _png(Image.open(photo))
    raw = make_raw(tmp_path / "raw", [("tb", "x.jpg", photo.read_bytes()), ("tb", "x.png", as_png)])
    df = read_manifest(extract_faces(CFG, raw, tmp_path / "faces"))
    assert sorted(df["face_id"]) == ["tb/x_jpg_f0", "tb/x_png_f0"]


def test_missing_raw_manifest_is_a_stage_error(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="manifest.csv: cannot read raw manifest"):
        extract_faces(CFG, tmp_path, tmp_path / "faces")


def _png(img: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _append_row(raw: Path, cls: str, rel: str) -> None:
    with open(raw / "manifest.csv", "a") as fh:
        fh.write(f"{cls},test:{rel},{rel},ok,,1,\n")
