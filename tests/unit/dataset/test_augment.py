"""augment: train-only, seeded byte-for-byte, same schema; online Keras layers."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from helpers.params import section
from helpers.stages import augment

from starrec.dataset.augment import Draw, apply_ops, online_augmentation_layers
from starrec.dataset.tfrecords import list_shards, make_dataset, parse_example

OFF = {"enabled": False, "low": 0.0, "high": 0.0}


def records(files: list[Path]) -> list[dict]:
    return [{k: v.numpy() for k, v in parse_example(s).items()}
            for s in tf.data.TFRecordDataset([str(f) for f in files])]


def shard_bytes(out: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(out.glob("*.tfrecord"))}


@pytest.fixture(scope="module")
def augmented(dataset_tfrecords: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("aug") / "augmented"
    augment(section("augment", copies=3), dataset_tfrecords, out)
    return out


def test_copies_schema_and_traceability(dataset_tfrecords, augmented):
    originals = records(list_shards(dataset_tfrecords, "train"))
    copies = records(list_shards(augmented, "train_aug"))
    assert len(copies) == 3 * len(originals)
    by_source = {r["source_id"]: r for r in originals}
    changed = 0
    for i, rec in enumerate(copies):
        src = originals[i // 3]
        assert rec["source_id"] == src["source_id"] and rec["source_id"] in by_source
        assert (rec["label"], rec["label_name"]) == (src["label"], src["label_name"])
        assert rec["image"].shape == src["image"].shape == (32, 32, 1)
        assert rec["sha256"].decode() == hashlib.sha256(rec["png"]).hexdigest()
        changed += not np.array_equal(rec["image"], src["image"])
    assert changed == len(copies)
    schema = json.loads((augmented / "schema.json").read_text())
    assert schema["splits"]["train_aug"]["records"] == len(copies)
    assert sum(schema["splits"]["train_aug"]["per_label"].values()) == len(copies)
    assert schema["image"]["channels"] == 1 and schema["augment"]["copies"] == 3


def test_only_train_read_and_only_train_aug_written(dataset_tfrecords, augmented, tmp_path):
    assert {f.name.split("-")[0] for f in augmented.glob("*.tfrecord")} == {"train_aug"}
    assert (augmented / "augment_preview.png").stat().st_size > 1000
    # val/test are never read: corrupting them does not change the output
    spoiled = tmp_path / "tfr"
    spoiled.mkdir()
    for f in dataset_tfrecords.iterdir():
        data = f.read_bytes()
        (spoiled / f.name).write_bytes(b"garbage" if f.name.startswith(("val-", "test-")) else data)
    augment(section("augment", copies=3), spoiled, tmp_path / "out")
    assert shard_bytes(tmp_path / "out") == shard_bytes(augmented)


def test_same_seed_same_bytes_other_seed_differs(dataset_tfrecords, tmp_path):
    cfg = section("augment", copies=1, seed=5)
    augment(cfg, dataset_tfrecords, tmp_path / "a")
    augment(cfg, dataset_tfrecords, tmp_path / "b")
    augment(section("augment", copies=1, seed=6), dataset_tfrecords, tmp_path / "c")
    assert shard_bytes(tmp_path / "a") == shard_bytes(tmp_path / "b")
    assert (tmp_path / "a" / "augment_preview.png").read_bytes() == (
        tmp_path / "b" / "augment_preview.png").read_bytes()
    assert shard_bytes(tmp_path / "a") != shard_bytes(tmp_path / "c")


def test_all_ops_off_is_identity():
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    cfg = section("augment", flip=False, brightness=OFF, contrast=OFF, saturation=OFF, hue=OFF,
                        rotation_deg=OFF, zoom=OFF, translation=OFF)
    assert np.array_equal(apply_ops(image, cfg, Draw.sample(cfg, 0, 0)), image)


def test_ops_do_what_they_say():
    image = np.random.default_rng(0).integers(60, 200, (16, 16, 1), dtype=np.uint8)
    only = dict(flip=False, brightness=OFF, contrast=OFF, saturation=OFF, hue=OFF,
                rotation_deg=OFF, zoom=OFF, translation=OFF)
    flip = section("augment", **{**only, "flip": True})
    d = Draw.sample(flip, 0, 0)
    assert np.array_equal(apply_ops(image, flip, d), image[:, ::-1] if d.flip else image)
    bright = section("augment", **{**only, "brightness": {"enabled": True, "low": 0.1, "high": 0.1}})
    assert np.allclose(apply_ops(image, bright, Draw.sample(bright, 0, 0)).astype(int),
                       image.astype(int) + round(0.1 * 255), atol=1)
    shift = section("augment", **{**only, "translation": {"enabled": True, "low": 0.25, "high": 0.25}})
    moved = apply_ops(image, shift, Draw.sample(shift, 0, 0))
    assert np.array_equal(moved[4:, 4:], image[:-4, :-4])  # 0.25 * 16 = 4 px right and down


def test_hue_and_saturation_change_rgb_only():
    rgb = np.random.default_rng(1).integers(30, 220, (8, 8, 3), dtype=np.uint8)
    cfg = section("augment", flip=False, brightness=OFF, contrast=OFF, rotation_deg=OFF, zoom=OFF,
                        translation=OFF, hue={"enabled": True, "low": 0.2, "high": 0.2}, saturation=OFF)
    shifted = apply_ops(rgb, cfg, Draw.sample(cfg, 0, 0))
    assert not np.array_equal(shifted, rgb)
    gray = rgb[..., :1]
    assert np.array_equal(apply_ops(gray, cfg, Draw.sample(cfg, 0, 0)), gray)


def test_disabling_one_op_keeps_the_other_draws():
    on, off = section("augment"), section("augment", zoom=OFF)
    a, b = Draw.sample(on, 3, 1), Draw.sample(off, 3, 1)
    assert dataclasses.replace(a, zoom=0.0) == b
    assert a != Draw.sample(on, 3, 2) and a != Draw.sample(on, 4, 1)


def test_online_layers_in_the_tf_data_pipeline(augmented):
    layers = online_augmentation_layers(section("augment"))
    names = [type(layer).__name__ for layer in layers.layers]
    assert names == ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                     "RandomBrightness", "RandomContrast"]
    assert len(online_augmentation_layers(section("augment"), channels=3).layers) == 8
    files = list_shards(augmented, "train_aug")
    plain = next(iter(make_dataset(files, batch_size=8)))[0].numpy()
    aug = next(iter(make_dataset(files, batch_size=8, augment=layers)))[0].numpy()
    assert aug.shape == plain.shape and aug.dtype == np.float32
    assert 0.0 <= aug.min() and aug.max() <= 1.0 and not np.allclose(aug, plain)
