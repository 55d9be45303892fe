"""The train stage's inputs: train (+ offline-augmented) and val batches from TFRecords,
class names, image shape, per-split sizes and class weights."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from starrec.artifacts import AUGMENTED_SPLIT
from starrec.config import TrainParams
from starrec.dataset.tfrecords import list_shards, make_dataset, read_label_map
from starrec.errors import StageError

log = logging.getLogger(__name__)


@dataclass
class TrainData:
    train: tf.data.Dataset
    val: tf.data.Dataset
    classes: list[str]
    input_shape: tuple[int, int, int]
    sizes: dict[str, int]  # records per source: train, train_aug, val
    class_weight: dict[int, float] | None


def labels_of(files: list[Path]) -> np.ndarray:
    return np.concatenate([y.numpy() for _, y in make_dataset(files, batch_size=1024, cache=False)])


def load_data(cfg: TrainParams, tfrecord_dir: Path, augmented_dir: Path | None,
              augment: keras.Layer | None = None) -> TrainData:
    """Shuffled (seeded) train batches, with the offline-augmented shards when
    `use_augmented`, optionally through the online `augment` layer; val batches as they are."""
    tfrecord_dir = Path(tfrecord_dir)
    try:
        classes = read_label_map(tfrecord_dir)
        train_files = list_shards(tfrecord_dir, "train")
        val_files = list_shards(tfrecord_dir, "val")
    except (OSError, ValueError, KeyError) as exc:
        raise StageError(f"{tfrecord_dir}: cannot read the TFRecords ({exc})") from exc
    aug_files: list[Path] = []
    if cfg.use_augmented:
        try:
            aug_files = list_shards(Path(augmented_dir), AUGMENTED_SPLIT)
        except (OSError, TypeError) as exc:
            raise StageError(f"{augmented_dir}: train.use_augmented is set but there are no "
                             f"augmented shards ({exc})") from exc
    y_train, y_aug, y_val = (labels_of(f) if f else np.empty(0, np.int64)
                             for f in (train_files, aug_files, val_files))
    if not len(y_train) or not len(y_val):
        raise StageError(f"{tfrecord_dir}: the train and val splits must not be empty "
                         f"(train {len(y_train)}, val {len(y_val)})")
    train = make_dataset(train_files + aug_files, batch_size=cfg.batch_size, shuffle=True,
                         seed=cfg.seed, augment=augment)
    val = make_dataset(val_files, batch_size=cfg.batch_size)
    shape = tuple(int(d) for d in train.element_spec[0].shape[1:])
    sizes = {"train": len(y_train), AUGMENTED_SPLIT: len(y_aug), "val": len(y_val)}
    weights = None
    if cfg.class_weights:
        y = np.concatenate([y_train, y_aug])
        present = np.unique(y)
        values = compute_class_weight("balanced", classes=present, y=y)
        weights = {int(c): float(w) for c, w in zip(present, values)}
    missing = sorted(set(range(len(classes))) - set(np.unique(y_train).tolist()))
    if missing:
        log.warning("no train images for %s", ", ".join(classes[i] for i in missing))
    log.info("train %d (+%d augmented), val %d images of %s, %d classes", sizes["train"],
             sizes[AUGMENTED_SPLIT], sizes["val"], "x".join(map(str, shape)), len(classes))
    return TrainData(train, val, classes, shape, sizes, weights)
