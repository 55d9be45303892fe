"""Stage `split`: stratified, leakage-free splits, with duplicates planted from real LFW photos."""

from __future__ import annotations

import hashlib
import io
import shutil
from pathlib import Path

import imagehash
import pandas as pd
import pytest
from helpers.faces import make_faces_dir
from helpers.params import section
from helpers.stages import split as run_split
from PIL import Image, ImageEnhance

from starrec.dataset.split import assign_splits
from starrec.errors import StageError

CROP = (70, 70, 180, 180)  # the fixture's face box in the 250x250 LFW photos


def face_row(faces: Path, like: pd.Series, face_id: str, image: Image.Image, source: str) -> dict:
    """Save `image` as a new face of `like`'s class and return its manifest row."""
    rel = f"{face_id}.png"
    image.save(faces / rel)
    data = (faces / rel).read_bytes()
    return {**like.to_dict(), "face_id": face_id, "path": rel, "source_sha256": source,
            "sha256": hashlib.sha256(data).hexdigest(), "phash": str(imagehash.phash(image))}


@pytest.fixture()
def planted(tmp_path: Path, faces_dir: Path, shared_datasets: Path) -> tuple[Path, dict[str, list[str]]]:
    """The faces fixture plus an exact copy, a second face from one photo and three near-copies."""
    faces = Path(shutil.copytree(faces_dir, tmp_path / "faces"))
    manifest = pd.read_csv(faces / "manifest.csv", dtype=str)
    row = manifest.set_index("face_id")
    lfw = shared_datasets / "lfw-subset"

    exact = row.loc["Hugo_Chavez/Hugo_Chavez_0001_f0"]
    copy = Image.open(faces / exact["path"])
    new = [face_row(faces, exact.rename(None), "Hugo_Chavez/reupload_f0", copy, "0" * 64)]

    second = row.loc["Colin_Powell/Colin_Powell_0001_f0"]
    photo = Image.open(lfw / "Colin_Powell/Colin_Powell_0001.jpg").convert("L")
    other_face = photo.crop((0, 120, 110, 230)).resize((32, 32), Image.BICUBIC)
    new.append(face_row(faces, second.rename(None), "Colin_Powell/Colin_Powell_0001_f1", other_face,
                        second["source_sha256"]))

    near = row.loc["Hugo_Chavez/Hugo_Chavez_0004_f0"]
    photo = Image.open(lfw / "Hugo_Chavez/Hugo_Chavez_0004.jpg").convert("L")
    original = Image.open(faces / near["path"])
    jpeg = io.BytesIO()
    original.save(jpeg, "JPEG", quality=60)
    variants = {
        "jpeg": Image.open(jpeg).convert("L"),
        "shift": photo.crop((CROP[0] + 1, CROP[1] + 1, CROP[2] + 1, CROP[3] + 1))
                      .resize((32, 32), Image.BICUBIC),
        "bright": ImageEnhance.Brightness(original).enhance(1.15),
    }
    for name, image in variants.items():
        new.append(face_row(faces, near.rename(None), f"Hugo_Chavez/{name}_0004_f0", image,
                            hashlib.sha256(name.encode()).hexdigest()))
    planted = pd.concat([manifest, pd.DataFrame(new)], ignore_index=True)
    planted.to_csv(faces / "manifest.csv", index=False)

    hashes = {f: imagehash.hex_to_hash(h) for f, h in zip(planted["face_id"], planted["phash"])}
    near_ids = [f"Hugo_Chavez/{n}_0004_f0" for n in variants]
    for face_id in near_ids:  # the plants really are near-duplicates, not exact copies
        assert hashes[face_id] - hashes[near.name] <= 4
        assert planted.set_index("face_id").loc[face_id, "sha256"] != near["sha256"]
    assert hashes["Colin_Powell/Colin_Powell_0001_f1"] - hashes[second.name] > 4
    return faces, {"sha256": [exact.name, "Hugo_Chavez/reupload_f0"],
                   "source_photo": [second.name, "Colin_Powell/Colin_Powell_0001_f1"],
                   "phash": [near.name, *near_ids]}


def test_planted_duplicates_share_group_and_split(planted, tmp_path: Path) -> None:
    faces, leaks = planted
    for seed in range(8):
        out = tmp_path / f"splits{seed}"
        stats = run_split(section("split", seed=seed), faces / "manifest.csv", out)
        split = pd.read_csv(out / "split.csv").set_index("face_id")
        for ids in leaks.values():
            assert split.loc[ids, "group"].nunique() == 1
            assert split.loc[ids, "split"].nunique() == 1
        assert split.groupby("group")["split"].nunique().max() == 1  # no group in two splits
    assert stats["groups"]["merged"] == {"sha256": 1, "source_photo": 1, "phash": 3}
    assert stats["groups"]["total"] == 80 - 5 and stats["groups"]["multi_face"] == 3


def test_near_duplicates_beyond_the_distance_stay_apart(planted, tmp_path: Path) -> None:
    faces, leaks = planted
    stats = run_split(section("split", phash_max_distance=0), faces / "manifest.csv", tmp_path / "s")
    manifest = pd.read_csv(faces / "manifest.csv", dtype=str).set_index("face_id")
    distinct = manifest.loc[leaks["phash"], "phash"].nunique()
    assert distinct > 1  # some plant differs by a few bits: only the threshold joins it
    assert stats["groups"]["merged"]["phash"] == len(leaks["phash"]) - distinct


def test_ratios_within_one_image_per_class_and_labels(planted, tmp_path: Path) -> None:
    faces, _ = planted
    stats = run_split(section("split"), faces / "manifest.csv", tmp_path / "s")
    split = pd.read_csv(tmp_path / "s" / "split.csv")
    ratios = {"train": 0.6, "val": 0.2, "test": 0.2}
    sizes = split["class"].value_counts()
    assert dict(sizes) == {"Ariel_Sharon": 30, "Hugo_Chavez": 29, "Colin_Powell": 21}
    for (name, part), n in split.groupby(["class", "split"]).size().items():
        assert abs(n - sizes[name] * ratios[part]) < 1, (name, part, n)
        assert stats["counts"][part][name] == n
    assert stats["totals"]["all"] == 80 == sum(stats["totals"][s] for s in ratios)
    assert stats["classes"] == ["Ariel_Sharon", "Colin_Powell", "Hugo_Chavez"]
    assert (split["label"] == split["class"].map(stats["classes"].index)).all()
    assert list(split.columns) == ["face_id", "class", "label", "path", "split", "group",
                                   "clean_reason"]
    assert all((faces / p).is_file() for p in split["path"])
    png = (tmp_path / "s" / "class_counts.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_same_seed_same_split_other_seed_differs(faces_dir: Path, tmp_path: Path) -> None:
    manifest = faces_dir / "manifest.csv"
    run_split(section("split", seed=7), manifest, tmp_path / "a")
    run_split(section("split", seed=7), manifest, tmp_path / "b")
    run_split(section("split", seed=8), manifest, tmp_path / "c")
    a, b, c = ((tmp_path / x / "split.csv").read_bytes() for x in "abc")
    assert a == b and a != c


def test_class_too_small_for_every_split_is_an_error(tmp_path: Path, shared_datasets: Path) -> None:
    faces = make_faces_dir(tmp_path / "faces", shared_datasets / "lfw-subset",
                           {"Ariel_Sharon": 10, "Hugo_Chavez": 2})
    with pytest.raises(StageError, match=r"too few faces to appear in every split.*'Hugo_Chavez' "
                       r"\(2 faces\); leave such classes out with download.classes or a higher "
                       r"download.min_images_per_class$"):
        run_split(section("split"), faces / "manifest.csv", tmp_path / "splits")
    assert not (tmp_path / "splits").exists()


def test_class_with_too_few_groups_is_an_error(tmp_path: Path, shared_datasets: Path) -> None:
    faces = make_faces_dir(tmp_path / "faces", shared_datasets / "lfw-subset",
                           {"Ariel_Sharon": 10, "Hugo_Chavez": 4})
    manifest = pd.read_csv(faces / "manifest.csv", dtype=str)
    hugo = manifest.index[manifest["class"] == "Hugo_Chavez"]
    manifest.loc[hugo[1:], "source_sha256"] = manifest.loc[hugo[1], "source_sha256"]  # 3 from 1 photo
    manifest.to_csv(faces / "manifest.csv", index=False)
    with pytest.raises(StageError, match="class 'Hugo_Chavez' has 4 faces in 2 leakage groups"):
        run_split(section("split"), faces / "manifest.csv", tmp_path / "splits")


def test_mixed_class_group_follows_its_majority() -> None:
    classes = pd.Series(["a"] * 12 + ["b"] * 6)
    groups = pd.Series([0, 0, 1] + list(range(2, 11)) + [0] + list(range(11, 16)))
    split = assign_splits(classes, groups, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0)
    assert len(set(split[groups == 0])) == 1
    assert sorted(pd.Series(split[classes == "a"]).value_counts()) == [2, 3, 7]  # 7.2 / 2.4 / 2.4


def test_bad_phash_names_the_face(faces_dir: Path, tmp_path: Path) -> None:
    manifest = pd.read_csv(faces_dir / "manifest.csv", dtype=str)
    manifest.loc[3, "phash"] = "not-hex"
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    with pytest.raises(StageError, match=f"face '{manifest.loc[3, 'face_id']}' has no valid phash"):
        run_split(section("split"), tmp_path / "manifest.csv", tmp_path / "splits")
