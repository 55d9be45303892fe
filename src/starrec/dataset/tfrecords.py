"""Sharded TFRecords: the writer of the `write_tfrecords` stage and the tf.data reader the
model stages use.

One `tf.train.Example` per face keeps the PNG bytes unchanged (so a round trip is byte-exact
and sha256 stays checkable) next to its label and provenance; `schema.json` says what a
valid record looks like so `starrec inspect` and the readers can check it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm import tqdm

from starrec.artifacts import LABEL_MAP, SCHEMA, SPLITS
from starrec.config import EngineParams
from starrec.engine import Failed, map_elements
from starrec.errors import StageError
from starrec.io import write_json_atomic

log = logging.getLogger(__name__)

SPLIT_COLUMNS = ("face_id", "class", "label", "path", "split")
FEATURES = {"image": "bytes", "label": "int64", "label_name": "bytes", "height": "int64",
            "width": "int64", "channels": "int64", "source_id": "bytes", "sha256": "bytes"}
_FEATURE_SPEC = {name: tf.io.FixedLenFeature([], tf.string if kind == "bytes" else tf.int64)
                 for name, kind in FEATURES.items()}


# --- writing ---------------------------------------------------------------------------


def make_example(png: bytes, label: int, label_name: str, shape: Sequence[int],
                 source_id: str) -> bytes:
    """A serialized Example with the fixed schema (`FEATURES`); sha256 is of `png`."""
    def b(value: bytes) -> tf.train.Feature:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def i(value: int) -> tf.train.Feature:
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))

    height, width, channels = shape
    feature = {"image": b(png), "label": i(label), "label_name": b(label_name.encode()),
               "height": i(height), "width": i(width), "channels": i(channels),
               "source_id": b(source_id.encode()),
               "sha256": b(hashlib.sha256(png).hexdigest().encode())}
    # deterministic: proto maps otherwise serialize in a different order every run, so the
    # same records would give other shard bytes (and other DVC hashes) each time
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(
        deterministic=True)


def shard_name(prefix: str, index: int, count: int) -> str:
    return f"{prefix}-{index:05d}-of-{count:05d}.tfrecord"


def shard_sizes(n_records: int, shard_size: int) -> list[int]:
    """Records per shard: ceil(n / shard_size) shards of near-equal size (balanced shards
    interleave evenly)."""
    n_shards = max(1, math.ceil(n_records / shard_size))
    return [len(part) for part in np.array_split(np.arange(n_records), n_shards)]


def write_shards(records: Iterable[bytes], n_records: int, out_dir: Path, prefix: str,
                 shard_size: int) -> list[str]:
    """Write `n_records` serialized records into `shard_sizes` shards; returns the file
    names in order."""
    sizes = shard_sizes(n_records, shard_size)
    names = [shard_name(prefix, i, len(sizes)) for i in range(len(sizes))]
    it = iter(records)
    written = 0
    for name, size in zip(names, sizes, strict=True):
        with tf.io.TFRecordWriter(str(out_dir / name)) as writer:
            for record in itertools.islice(it, size):
                writer.write(record)
                written += 1
    if written < n_records or next(it, None) is not None:
        raise ValueError(f"{prefix}: got {'fewer' if written < n_records else 'more'} than the "
                         f"{n_records} records announced")
    return names


def read_split_table(split_csv: Path) -> tuple[pd.DataFrame, list[str]]:
    """Rows of split.csv and the sorted class names; labels must be their index there."""
    try:
        df = pd.read_csv(split_csv, dtype={"face_id": str, "class": str, "path": str, "split": str})
    except (OSError, ValueError) as exc:
        raise StageError(f"{split_csv}: cannot read split table ({exc})") from exc
    missing = [c for c in SPLIT_COLUMNS if c not in df.columns]
    if missing:
        raise StageError(f"{split_csv}: missing columns {missing}")
    unknown = sorted(set(df["split"]) - set(SPLITS))
    if unknown:
        raise StageError(f"{split_csv}: unknown split values {unknown} (expected {list(SPLITS)})")
    classes = sorted(df["class"].unique())
    wrong = df[df["label"] != df["class"].map(classes.index)]
    if len(wrong):
        row = wrong.iloc[0]
        raise StageError(f"{split_csv}: {len(wrong)} rows whose label is not the class index in "
                         f"sorted class names, e.g. {row['face_id']} ({row['class']}: "
                         f"{row['label']} != {classes.index(row['class'])})")
    if not (df["split"] == "train").any():
        raise StageError(f"{split_csv}: no train rows")
    return df, classes


def _load_face(faces_dir: Path, rel: str) -> tuple[bytes, tuple[int, int, int]]:
    """The PNG bytes and decoded (h, w, c); ValueError with the reason if unusable."""
    path = faces_dir / rel
    try:
        png = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read ({exc.strerror or exc})") from exc
    try:
        shape = tf.io.decode_png(png, channels=0).shape
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as exc:
        raise ValueError(f"not a decodable PNG ({exc.message.splitlines()[0]})") from exc
    return png, tuple(int(d) for d in shape)


def _record_order(face_id: str) -> str:
    """Records are ordered by a hash of face_id: every shard mixes classes, and the order is
    independent of the row order in split.csv."""
    return hashlib.sha256(face_id.encode()).hexdigest()


def load_faces(table: pd.DataFrame, faces_dir: Path, where: Path
               ) -> tuple[list[tuple[Any, bytes]], tuple[int, int, int], list[dict[str, str]]]:
    """The split table's faces as (row, PNG bytes) in record order, the data set's image
    shape, and the faces rejected with their reason: a face that cannot be read, is not a PNG
    or has another shape than the data set's is logged and rejected, never silently dropped."""
    df = (table.rename(columns={"class": "label_name"})
          .assign(_order=table["face_id"].map(_record_order)).sort_values("_order", kind="stable"))
    loaded, rejected = [], []
    for row in tqdm(df.itertuples(index=False), total=len(df), desc="read faces", leave=False):
        try:
            loaded.append((row, *_load_face(faces_dir, row.path)))
        except ValueError as exc:
            rejected.append({"face_id": row.face_id, "path": row.path, "split": row.split,
                             "reason": str(exc)})
    if not loaded:
        raise StageError(f"{where}: none of the {len(df)} faces in {faces_dir} is usable")
    shape = Counter(s for _, _, s in loaded).most_common(1)[0][0]
    for row, _, s in loaded:
        if s != shape:
            rejected.append({"face_id": row.face_id, "path": row.path, "split": row.split,
                             "reason": f"shape {s} differs from the data set's {shape}"})
    for r in rejected:
        log.warning("%s: rejected %s (%s)", faces_dir / r["path"], r["face_id"], r["reason"])
    return [(row, png) for row, png, s in loaded if s == shape], shape, rejected


@dataclass(frozen=True)
class ShardJob:
    """One shard to write: its file name and its faces (PNG, label, label name, face id)."""

    name: str
    faces: list[tuple[bytes, int, str, str]]
    shape: tuple[int, int, int]


def write_shard(job: ShardJob, out_dir: Path) -> str:
    """The per-shard work of both engines: `job`'s records into `out_dir/job.name`."""
    with tf.io.TFRecordWriter(str(Path(out_dir) / job.name)) as writer:
        for png, label, label_name, face_id in job.faces:
            writer.write(make_example(png, label, label_name, job.shape, face_id))
    return job.name


def shard_jobs(faces: list[tuple[Any, bytes]], shape: tuple[int, int, int], split: str,
               shard_size: int) -> list[ShardJob]:
    """The shards of one split, faces in record order (see `load_faces`)."""
    rows = [(png, int(row.label), row.label_name, row.face_id) for row, png in faces
            if row.split == split]
    sizes = shard_sizes(len(rows), shard_size)
    starts = np.cumsum([0, *sizes])
    return [ShardJob(shard_name(split, i, len(sizes)), rows[starts[i]:starts[i + 1]], shape)
            for i in range(len(sizes))]


def write_tfrecords(faces: list[tuple[Any, bytes]], classes: list[str],
                    shape: tuple[int, int, int], rejected: list[dict[str, str]],
                    shard_size: int, out_dir: Path,
                    engine: EngineParams | None = None) -> dict[str, Any]:
    """`{split}-NNNNN-of-NNNNN.tfrecord` shards of `faces` (see `load_faces`), label_map.json
    and schema.json (which lists the rejected faces) into `out_dir`; returns the schema.
    Shards are written one per element, in this process or on Beam (`engine`)."""
    jobs = {split: shard_jobs(faces, shape, split, shard_size) for split in SPLITS}
    every = [job for split in SPLITS for job in jobs[split]]
    written = map_elements(every, partial(write_shard, out_dir=out_dir), engine, out_dir,
                           desc="write_tfrecords")
    failed = [(job.name, r.reason) for job, r in zip(every, written, strict=True)
              if isinstance(r, Failed)]
    if failed:
        raise StageError(f"{out_dir}: {len(failed)} shard(s) not written, e.g. {failed[0][0]} "
                         f"({failed[0][1]})")
    splits = {}
    for split in SPLITS:
        per_label = Counter(name for job in jobs[split] for _, _, name, _ in job.faces)
        splits[split] = {"records": sum(len(job.faces) for job in jobs[split]),
                         "shards": [job.name for job in jobs[split]],
                         "per_label": {c: per_label.get(c, 0) for c in classes}}
    write_json_atomic(out_dir / LABEL_MAP, {"classes": classes})
    schema = make_schema(shape, splits, shard_size=shard_size, rejected=rejected)
    write_json_atomic(out_dir / SCHEMA, schema)
    log.info("%s: %s records (%s), %d rejected", out_dir, sum(s["records"] for s in splits.values()),
             ", ".join(f"{k} {v['records']}" for k, v in splits.items()), len(rejected))
    return schema


def make_schema(shape: Sequence[int], splits: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """What `starrec inspect` checks records against."""
    height, width, channels = shape
    return {"features": FEATURES,
            "image": {"encoding": "png", "height": height, "width": width, "channels": channels},
            "splits": splits, **extra}


# --- reading ---------------------------------------------------------------------------


def list_shards(tfrecord_dir: Path, split: str) -> list[Path]:
    """The shards of one split (`train`, `val`, `test`, `train_aug`) in order."""
    files = sorted(Path(tfrecord_dir).glob(f"{split}-*-of-*.tfrecord"))
    if not files:
        raise FileNotFoundError(f"{tfrecord_dir}: no {split}-*-of-*.tfrecord shards")
    return files


def read_label_map(tfrecord_dir: Path) -> list[str]:
    """Class names; a label id is the index in this list."""
    return list(json.loads((Path(tfrecord_dir) / LABEL_MAP).read_text())["classes"])


def read_schema(tfrecord_dir: Path) -> dict[str, Any]:
    return json.loads((Path(tfrecord_dir) / SCHEMA).read_text())


def load_split(tfrecord_dir: Path, split: str, with_ids: bool = False
               ) -> tuple[np.ndarray, ...]:
    """All images (N, H, W, C float32 [0, 1]) and labels (int64) of one split, in shard
    order[, and their face ids (str)]."""
    try:
        batches = [tuple(t.numpy() for t in b) for b in make_dataset(
            list_shards(tfrecord_dir, split), batch_size=512, cache=False, with_ids=with_ids)]
    except (OSError, ValueError) as exc:  # no shards, or only empty ones
        raise StageError(f"{tfrecord_dir}: cannot read the {split} split ({exc})") from exc
    images = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches]).astype(np.int64)
    if not with_ids:
        return images, labels
    return images, labels, np.array([i.decode() for b in batches for i in b[2]], dtype=str)


def parse_example(serialized: tf.Tensor) -> dict[str, tf.Tensor]:
    """Every feature of one record; `image` decoded to uint8 (H, W, C), `png` its bytes."""
    f = tf.io.parse_single_example(serialized, _FEATURE_SPEC)
    image = tf.io.decode_png(f["image"], channels=0)
    shape = tf.stack([f["height"], f["width"], f["channels"]])
    return {**f, "png": f["image"], "image": tf.reshape(image, shape)}


def _image_shape(files: Sequence[str]) -> tuple[int, int, int]:
    """Static image shape, from the first record (Keras needs it known at trace time)."""
    for serialized in tf.data.TFRecordDataset(files[:1]).take(1):
        return tuple(int(d) for d in parse_example(serialized)["image"].shape)
    raise ValueError(f"{files[0]}: no records")


def make_dataset(files: Sequence[Path | str], *, batch_size: int, shuffle: bool = False,
                 seed: int | None = None, cache: bool = True,
                 augment: keras.Layer | Callable[[tf.Tensor], tf.Tensor] | None = None,
                 repeat: bool = False, with_ids: bool = False,
                 shuffle_buffer: int = 10_000) -> tf.data.Dataset:
    """Batches of (images float32 in [0, 1] (B, H, W, C), labels int64 (B,)[, source_ids]).

    Shards are read and decoded in parallel; decoded uint8 images are cached (4x smaller than
    float) before the per-epoch reshuffle; augmentation runs on whole batches. Element order is
    deterministic when a seed is set, or when not shuffling.
    """
    files = [str(f) for f in files]
    if not files:
        raise ValueError("make_dataset: no files")
    shape = _image_shape(files)
    autotune = tf.data.AUTOTUNE

    def parse(serialized: tf.Tensor) -> tuple[tf.Tensor, ...]:
        f = parse_example(serialized)
        image = tf.ensure_shape(f["image"], shape)
        return (image, f["label"], f["source_id"]) if with_ids else (image, f["label"])

    def to_float(image: tf.Tensor, *rest: tf.Tensor) -> tuple[tf.Tensor, ...]:
        image = tf.cast(image, tf.float32) / 255.0
        if augment is not None:
            out = augment(image, training=True) if isinstance(augment, keras.Layer) else augment(image)
            image = tf.clip_by_value(tf.cast(out, tf.float32), 0.0, 1.0)
        return (image, *rest)

    ds = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset, cycle_length=min(len(files), 16), num_parallel_calls=autotune)
    ds = ds.map(parse, num_parallel_calls=autotune)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size).map(to_float, num_parallel_calls=autotune).prefetch(autotune)
    options = tf.data.Options()
    options.deterministic = seed is not None or not shuffle
    return ds.with_options(options)


def load_pooled(tfrecord_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every record of every split with records: float32 [0, 1] images and class names (for
    a learner that splits by identity itself, e.g. pretraining, the photo split is pooled)."""
    try:
        classes = np.array(read_label_map(tfrecord_dir))
        counts = read_schema(tfrecord_dir)["splits"]
    except (OSError, ValueError, KeyError) as exc:
        raise StageError(f"{tfrecord_dir}: cannot read {LABEL_MAP} / {SCHEMA} ({exc})") from exc
    parts = [load_split(tfrecord_dir, s) for s in SPLITS if counts.get(s, {}).get("records")]
    if not parts:
        raise StageError(f"{tfrecord_dir}: no TFRecord shards")
    return np.concatenate([x for x, _ in parts]), classes[np.concatenate([y for _, y in parts])]
