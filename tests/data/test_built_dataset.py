"""Expectations on a built data set (Made-With-ML's data tests): the TFRecords match their
schema, the label set is the configured one, and no face leaks between splits."""

from __future__ import annotations

import json
from collections import Counter

import imagehash
import numpy as np
import pandas as pd
import tensorflow as tf

from starrec.artifacts import LABEL_MAP, MANIFEST, SCHEMA, SPLIT_CSV, SPLITS
from starrec.dataset.inspect import inspect_tfrecords
from starrec.dataset.tfrecords import FEATURES, list_shards


def tables(built) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The split table joined with the faces manifest, the raw manifest, and stats.json."""
    paths = built.cfg.paths
    faces = pd.read_csv(paths.faces / MANIFEST, dtype={"sha256": str, "source_sha256": str,
                                                       "phash": str})
    split = pd.read_csv(paths.splits / SPLIT_CSV).merge(
        faces[["face_id", "sha256", "source_sha256", "phash"]], on="face_id", how="left")
    raw = pd.read_csv(paths.raw / MANIFEST, keep_default_na=False)
    return split, raw, json.loads((paths.splits / "stats.json").read_text())


def test_records_match_the_schema(built) -> None:
    tfrecords = built.cfg.paths.tfrecords
    schema = json.loads((tfrecords / SCHEMA).read_text())
    assert schema["features"] == FEATURES
    assert schema["image"]["height"] == schema["image"]["width"] == built.cfg.extract.image_size
    assert schema["image"]["channels"] == (1 if built.cfg.extract.color_mode == "gray" else 3)
    result = inspect_tfrecords(tfrecords)
    assert result.errors == []  # every record parses, decodes, matches its sha256 and labels
    split, _, stats = tables(built)
    for name in SPLITS:
        in_table = int((split["split"] == name).sum())
        assert stats["totals"][name] == in_table
        rejected = sum(r["split"] == name for r in schema["rejected"])
        assert schema["splits"][name]["records"] == in_table - rejected


def test_label_set_is_the_configured_one(built) -> None:
    split, raw, stats = tables(built)
    classes = json.loads((built.cfg.paths.tfrecords / LABEL_MAP).read_text())["classes"]
    wanted = built.cfg.download.classes or sorted(
        c for c, n in Counter(raw.loc[raw["status"] == "ok", "class"]).items()
        if n >= built.cfg.download.min_images_per_class)
    assert classes == sorted(wanted) == stats["classes"] == sorted(split["class"].unique())
    assert (split["label"] == split["class"].map(classes.index)).all()
    for name in SPLITS:  # every class in every split, none with fewer faces than validated
        counts = split[split["split"] == name]["class"].value_counts()
        assert set(counts.index) == set(classes), name
    per_class = split["class"].value_counts()
    assert (per_class >= built.cfg.validate_.min_images_per_class).all()


def test_no_face_leaks_between_splits(built) -> None:
    split, _, _ = tables(built)
    for key in ("face_id", "sha256", "source_sha256", "group"):
        spread = split.groupby(key)["split"].nunique()
        assert (spread == 1).all(), f"{key} shared across splits: {list(spread[spread > 1].index)[:3]}"
    bits = np.stack([imagehash.hex_to_hash(h).hash.ravel() for h in split["phash"]])
    names = split["split"].to_numpy()
    limit = built.cfg.split.phash_max_distance
    for i in range(len(bits)):  # near-duplicates (re-encodes, small shifts) stay together
        near = np.flatnonzero((bits[i + 1:] != bits[i]).sum(axis=1) <= limit) + i + 1
        assert (names[near] == names[i]).all(), split.iloc[[i, *near]][["face_id", "split"]]


def test_split_shares_follow_params(built) -> None:
    split, _, _ = tables(built)
    cfg = built.cfg.split
    share = split.groupby("class")["split"].value_counts(normalize=True).unstack()
    largest_group = split.groupby("class")["group"].value_counts().groupby("class").max()
    size = split["class"].value_counts()
    for name, target in (("train", cfg.train), ("val", cfg.val), ("test", cfg.test)):
        slack = (largest_group + 1) / size  # whole groups: within one group of the target
        assert ((share[name] - target).abs() <= slack).all(), name


def test_records_hold_each_face_once_in_its_own_split(built) -> None:
    split, _, _ = tables(built)
    spec = {"source_id": tf.io.FixedLenFeature([], tf.string)}
    seen: list[str] = []
    for name in SPLITS:
        shards = [str(f) for f in list_shards(built.cfg.paths.tfrecords, name)]
        ids = [tf.io.parse_single_example(r, spec)["source_id"].numpy().decode()
               for r in tf.data.TFRecordDataset(shards)]
        assert set(ids) <= set(split.loc[split["split"] == name, "face_id"]), name
        seen += ids
    assert len(seen) == len(set(seen))
