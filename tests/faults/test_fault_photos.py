"""Bad and awkward photo files through download and extract_faces: each bad file is a row
with its reason, every good photo (whatever its mode or name) comes through."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pandas as pd
import pytest
from helpers.faces import make_raw, read_manifest
from helpers.fault_images import HTML, group_photo, modes, no_face, png_bomb
from helpers.faults import Case, case, cases
from helpers.params import section
from helpers.stages import download, download_params, extract_faces

MAX_PIXELS = 40_000_000
YUNET = section("extract", detector="yunet", n_jobs=1)
LFW = "lfw-original-10x10"


def photos(root: Path, person: str) -> list[Path]:
    return sorted((root / LFW / person).glob("*.jpg"))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """alice: good photos in every mode and odd names plus every kind of bad file;
    bob: three plain photos; carol: one photo (below the minimum of 2)."""
    root = tmp_path_factory.mktemp("photos")
    alice, bob, carol = (root / n for n in ("alice", "bob", "carol"))
    for d in (alice, bob, carol):
        d.mkdir()
    face = photos(shared_datasets, "Colin_Powell")
    for name, data in modes(face[0]).items():
        (alice / name).write_bytes(data)
    (alice / "ünïcødé 名前.jpg").write_bytes(face[1].read_bytes())
    (alice / "with  spaces .jpg").write_bytes(face[2].read_bytes())
    (alice / "group.jpg").write_bytes(group_photo(photos(shared_datasets, "Tony_Blair")))
    (alice / "nobody.jpg").write_bytes(no_face())
    good = face[3].read_bytes()
    (alice / "corrupt.jpg").write_bytes(random.Random(0).randbytes(5000))
    (alice / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (alice / "empty.jpg").write_bytes(b"")
    (alice / "notes.jpg").write_text("not a photo\n")
    (alice / "page.jpg").write_bytes(HTML)
    (alice / "bomb.png").write_bytes(png_bomb(12_000, 12_000))  # 144 MP in 18 KB
    for p in photos(shared_datasets, "George_W_Bush")[:3]:
        (bob / p.name).write_bytes(p.read_bytes())
    (carol / "only.jpg").write_bytes(photos(shared_datasets, "Tony_Blair")[5].read_bytes())
    return root


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory, source: Path) -> pd.DataFrame:
    tmp = tmp_path_factory.mktemp("run")
    out = download(download_params(source="folder", folder={"path": str(source)},
                                   cache_dir=str(tmp / "cache"), min_images_per_class=2,
                                   max_image_pixels=MAX_PIXELS), tmp / "raw")
    return pd.read_csv(out / "manifest.csv", keep_default_na=False).assign(dir=str(out))


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory, raw: pd.DataFrame) -> pd.DataFrame:
    out = extract_faces(YUNET, Path(raw["dir"][0]), tmp_path_factory.mktemp("f") / "faces")
    return read_manifest(out).assign(dir=str(out))


def row(raw: pd.DataFrame, name: str) -> pd.Series:
    return raw[raw["source"].str.endswith(f"/{name}")].iloc[0]


BAD = {  # file -> (status, reason pattern)
    "corrupt.jpg": (("not_image", r"not an image \(starts with [0-9a-f]{16}\)"),
                    Case("download", "random bytes named .jpg", "row `not_image`, reason names the first bytes")),
    "truncated.jpg": (("truncated", r"cannot decode image: image file is truncated \(\d+ bytes not processed\)"),
                      Case("download", "JPEG cut in half", "row `truncated`")),
    "empty.jpg": (("not_image", r"empty file"),
                  Case("download", "zero-byte .jpg", "row `not_image`: empty file")),
    "notes.jpg": (("not_image", r"not an image \(starts with 6e6f742061207068\)"),
                  Case("download", "text file named .jpg", "row `not_image`")),
    "page.jpg": (("not_image", r"not an image \(HTML page\)"),
                 Case("download", "HTML page saved as .jpg", "row `not_image`: HTML page")),
    "bomb.png": (("too_large", r"image too large: 12000x12000 pixels > download.max_image_pixels 40000000"),
                 Case("download", "decompression bomb: 144-megapixel PNG of 18 KB",
                      "row `too_large`, refused from the header before decoding")),
}


@cases("name", {k: (k, c) for k, (_, c) in BAD.items()})
def test_bad_file_is_a_row_with_its_reason(raw: pd.DataFrame, name: str) -> None:
    status, reason = BAD[name][0]
    r = row(raw, name)
    assert (r["status"], r["path"]) == (status, "")
    assert pd.Series([r["reason"]]).str.fullmatch(reason).all(), r["reason"]
    assert "\n" not in r["reason"]


@case("download", "every kind of bad file beside good photos",
      "good photos all `ok`, copied byte for byte; one manifest row per file")
def test_no_good_photo_is_lost(raw: pd.DataFrame, source: Path) -> None:
    files = sorted(p for p in source.rglob("*") if p.is_file())
    assert len(raw) == len(files)
    ok = raw[raw["status"] == "ok"]
    assert len(ok) == len(files) - len(BAD) - 1  # carol's one photo: class_dropped
    for _, r in ok.iterrows():
        data = (Path(r["dir"]) / r["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"] == hashlib.sha256(
            Path(r["source"]).read_bytes()).hexdigest()
    on_disk = sorted(p.relative_to(r["dir"]).as_posix() for p in Path(r["dir"]).rglob("*.*")
                     if p.name != "manifest.csv")
    assert on_disk == sorted(ok["path"])


@case("download", "a class below download.min_images_per_class (one photo)",
      "its rows kept as `class_dropped` with the count in the reason; the other classes kept")
def test_class_below_minimum_keeps_its_rows(raw: pd.DataFrame) -> None:
    carol = raw[raw["class"] == "carol"]
    assert carol[["status", "reason"]].values.tolist() == [
        ["class_dropped", "class has 1 ok images < download.min_images_per_class 2"]]
    assert set(raw.loc[raw["status"] == "ok", "class"]) == {"alice", "bob"}


GOOD = {  # file -> case; each must give a face
    "cmyk.jpg": Case("download, extract_faces", "CMYK JPEG", "`ok`; converted to RGB, face found"),
    "gray16.png": Case("download, extract_faces", "16-bit gray PNG", "`ok`; scaled by 1/257, face found"),
    "alpha.png": Case("download, extract_faces", "RGBA PNG with transparent bands",
                      "`ok`; alpha composited over white, face found"),
    "palette.png": Case("download, extract_faces", "palette PNG", "`ok`; face found"),
    "exif_rotated.jpg": Case("download, extract_faces", "JPEG stored sideways with EXIF orientation 6",
                             "`ok`; turned upright before detection, face found"),
    "ünïcødé 名前.jpg": Case("download, extract_faces", "unicode letters and spaces in a file name",
                             "`ok`; name kept in the manifest, face found"),
    "with  spaces .jpg": Case("download, extract_faces", "double and trailing spaces in a file name",
                              "`ok`; face found"),
}


@cases("name", {k: (k, c) for k, c in GOOD.items()})
def test_awkward_good_photo_gives_a_face(raw: pd.DataFrame, faces: pd.DataFrame, name: str) -> None:
    r = row(raw, name)
    assert r["status"] == "ok" and r["path"] == f"alice/{Path(name).stem}.{Path(name).suffix[1:]}"
    mine = faces[faces["source_path"] == r["path"]]
    assert mine["status"].tolist() == ["ok"], mine[["status", "reason"]].values
    assert mine["face_id"].item() == f"alice/{Path(name).stem}_f0"


@case("extract_faces", "photo with no face", "row `no_face` with the minimum size in the reason; "
      "the other photos' faces kept")
def test_photo_without_a_face(raw: pd.DataFrame, faces: pd.DataFrame) -> None:
    mine = faces[faces["source_path"] == row(raw, "nobody.jpg")["path"]]
    assert mine[["status", "reason"]].values.tolist() == [
        ["no_face", f"no face of at least min_face_size {YUNET.min_face_size}px detected"]]
    assert (faces["status"] == "ok").sum() >= len(GOOD) + 3 + 2


@case("extract_faces", "group photo: four LFW photos tiled 2x2", "one `ok` row and crop per "
      "face found (policy all; at least the four), ids `<stem>_f0..`")
def test_photo_with_many_faces(raw: pd.DataFrame, faces: pd.DataFrame) -> None:
    mine = faces[faces["source_path"] == row(raw, "group.jpg")["path"]]
    assert len(mine) >= 4 and (mine["status"] == "ok").all()
    assert sorted(mine["face_id"]) == [f"alice/group_f{k}" for k in range(len(mine))]
    assert all((Path(d) / p).is_file() for d, p in zip(mine["dir"], mine["path"], strict=True))


@case("extract_faces", "decompression bomb in the raw dir (not from download)",
      "row `unreadable`: image too large (download.max_image_pixels), refused before decoding; "
      "the face beside it kept")
def test_extract_refuses_a_bomb_before_decoding(tmp_path: Path, shared_datasets: Path) -> None:
    face = photos(shared_datasets, "Colin_Powell")[0]
    raw = make_raw(tmp_path / "raw", [("a", "bomb.png", png_bomb(12_000, 12_000)),
                                      ("a", "face.jpg", face.read_bytes())])
    rows = read_manifest(extract_faces(YUNET, raw, tmp_path / "faces")).set_index("source_path")
    assert rows.loc["a/bomb.png", ["status", "reason"]].tolist() == [
        "unreadable", f"image too large: 12000x12000 pixels > {MAX_PIXELS}"]
    assert rows.loc["a/face.jpg", "status"] == "ok"
