"""write_tfrecords + reader: byte-exact round trip, sharding, label map, tf.data batches."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from helpers.params import section
from helpers.stages import write_tfrecords

from starrec.dataset.tfrecords import list_shards, make_dataset, parse_example, read_label_map
from starrec.errors import StageError


def write_split_csv(faces_dir: Path, path: Path) -> pd.DataFrame:
    """split.csv (README contract): per class, the first 60% of faces train, then 20/20."""
    faces = pd.read_csv(faces_dir / "manifest.csv").sort_values("face_id")
    classes = sorted(faces["class"].unique())
    rank = faces.groupby("class").cumcount() / faces.groupby("class")["face_id"].transform("size")
    df = pd.DataFrame({"face_id": faces["face_id"], "class": faces["class"],
                       "label": faces["class"].map(classes.index), "path": faces["path"],
                       "split": np.select([rank < 0.6, rank < 0.8], ["train", "val"], "test"),
                       "group": faces["face_id"]})
    df.to_csv(path, index=False)
    return df


@pytest.fixture(scope="module")
def built(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("tfr")
    split = write_split_csv(faces_dir, tmp / "split.csv")
    write_tfrecords(section("tfrecords", shard_size=8), faces_dir, tmp / "split.csv", tmp / "out")
    return tmp / "out", split


def records(files: list[Path]) -> list[dict]:
    return [{k: v.numpy() for k, v in parse_example(s).items()}
            for s in tf.data.TFRecordDataset([str(f) for f in files])]


def test_round_trip_is_byte_exact(built, faces_dir):
    out, split = built
    for name in ("train", "val", "test"):
        got = {r["source_id"].decode(): r for r in records(list_shards(out, name))}
        want = split[split["split"] == name]
        assert sorted(got) == sorted(want["face_id"])
        for _, row in want.iterrows():
            rec = got[row["face_id"]]
            png = (faces_dir / row["path"]).read_bytes()
            assert rec["png"] == png
            assert rec["sha256"].decode() == hashlib.sha256(png).hexdigest()
            assert (rec["label"], rec["label_name"].decode()) == (row["label"], row["class"])
            assert rec["image"].shape == (32, 32, 1) == (rec["height"], rec["width"], rec["channels"])


def test_shards_label_map_and_schema(built):
    out, split = built
    classes = sorted(split["class"].unique())
    assert read_label_map(out) == classes
    schema = json.loads((out / "schema.json").read_text())
    assert schema["image"] == {"encoding": "png", "height": 32, "width": 32, "channels": 1}
    assert schema["rejected"] == []
    for name in ("train", "val", "test"):
        n = int((split["split"] == name).sum())
        files = list_shards(out, name)
        sizes = [sum(1 for _ in tf.data.TFRecordDataset(str(f))) for f in files]
        assert len(files) == -(-n // 8) and sum(sizes) == n and max(sizes) <= 8
        assert max(sizes) - min(sizes) <= 1
        assert files[0].name == f"{name}-00000-of-{len(files):05d}.tfrecord"
        assert schema["splits"][name]["shards"] == [f.name for f in files]
        per_label = split[split["split"] == name]["class"].value_counts().to_dict()
        assert schema["splits"][name]["per_label"] == {c: per_label.get(c, 0) for c in classes}
    # the train list must not pick up augmented shards written beside it
    (out / "train_aug-00000-of-00001.tfrecord").write_bytes(b"")
    try:
        assert all(f.name.startswith("train-") for f in list_shards(out, "train"))
    finally:
        (out / "train_aug-00000-of-00001.tfrecord").unlink()


def test_output_is_deterministic(built, faces_dir, tmp_path):
    out, _ = built
    shuffled = pd.read_csv(out.parent / "split.csv").sample(frac=1.0, random_state=1)
    shuffled.to_csv(tmp_path / "split.csv", index=False)
    write_tfrecords(section("tfrecords", shard_size=8), faces_dir, tmp_path / "split.csv", tmp_path / "o")
    for f in sorted(out.iterdir()):
        assert (tmp_path / "o" / f.name).read_bytes() == f.read_bytes(), f.name


def test_bad_face_is_recorded_not_dropped(faces_dir, tmp_path):
    faces = Path(shutil.copytree(faces_dir, tmp_path / "faces"))
    split = write_split_csv(faces, tmp_path / "split.csv")
    corrupt, missing = split.iloc[0], split.iloc[1]
    (faces / corrupt["path"]).write_bytes(b"not a png")
    (faces / missing["path"]).unlink()
    schema = write_tfrecords(section("tfrecords"), faces, tmp_path / "split.csv", tmp_path / "o")
    reasons = {r["face_id"]: r["reason"] for r in schema["rejected"]}
    assert reasons.keys() == {corrupt["face_id"], missing["face_id"]}
    assert "not a decodable PNG" in reasons[corrupt["face_id"]]
    assert "cannot read" in reasons[missing["face_id"]]
    assert sum(s["records"] for s in schema["splits"].values()) == len(split) - 2


def test_label_not_matching_sorted_classes_stops(faces_dir, tmp_path):
    split = write_split_csv(faces_dir, tmp_path / "split.csv")
    split.loc[split.index[0], "label"] = (split.iloc[0]["label"] + 1) % 3
    split.to_csv(tmp_path / "split.csv", index=False)
    with pytest.raises(StageError, match="split.csv: 1 rows whose label"):
        write_tfrecords(section("tfrecords"), faces_dir, tmp_path / "split.csv", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_make_dataset_batches(built):
    out, split = built
    n = int((split["split"] == "train").sum())
    ds = make_dataset(list_shards(out, "train"), batch_size=16)
    batches = list(ds)
    images, labels = batches[0]
    assert images.shape == (16, 32, 32, 1) and images.dtype == tf.float32
    assert labels.dtype == tf.int64 and labels.shape == (16,)
    everything = np.concatenate([b[0].numpy() for b in batches])
    assert len(everything) == n and 0.0 <= everything.min() and everything.max() <= 1.0
    assert everything.max() > 0.5  # real faces, not zeros
    assert ds.element_spec[0].shape.as_list() == [None, 32, 32, 1]


def test_make_dataset_with_ids_matches_source(built, faces_dir):
    out, split = built
    rows = split.set_index("face_id")
    for images, labels, ids in make_dataset(list_shards(out, "val"), batch_size=4, with_ids=True):
        for image, label, face_id in zip(images.numpy(), labels.numpy(), ids.numpy(), strict=True):
            row = rows.loc[face_id.decode()]
            png = tf.io.decode_png((faces_dir / row["path"]).read_bytes()).numpy()
            np.testing.assert_allclose(image, png / 255.0, atol=1e-6)
            assert label == row["label"]


def order(ds: tf.data.Dataset, epochs: int = 2) -> list[list[bytes]]:
    it = iter(ds)
    return [list(next(it)[2].numpy()) for _ in range(epochs)]


def test_make_dataset_shuffle_is_seeded_and_reshuffles(built):
    out, split = built
    n = int((split["split"] == "train").sum())
    files = list_shards(out, "train")

    def make(seed: int) -> tf.data.Dataset:
        return make_dataset(files, batch_size=n, shuffle=True, seed=seed, repeat=True, with_ids=True)

    first, again, other = order(make(7)), order(make(7)), order(make(8))
    assert first == again
    assert first != other
    assert first[0] != first[1] and sorted(first[0]) == sorted(first[1])  # reshuffled each epoch
    plain = [list(b[2].numpy()) for b in make_dataset(files, batch_size=n, with_ids=True)]
    assert plain[0] != first[0] and sorted(plain[0]) == sorted(first[0])


def test_make_dataset_applies_augment(built):
    out, _ = built
    files = list_shards(out, "val")
    plain = next(iter(make_dataset(files, batch_size=4)))[0].numpy()
    inverted = next(iter(make_dataset(files, batch_size=4, augment=lambda x: 1.0 - x)))[0].numpy()
    np.testing.assert_allclose(inverted, 1.0 - plain, atol=1e-6)
