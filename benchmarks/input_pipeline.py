"""Input pipeline vs. training step: can tf.data feed the default model fast enough?

Measures images/s of `make_dataset` (read + decode + batch + prefetch; cached and uncached,
with and without online augmentation) on the LFW-7 train split, and images/s one training
step of the default model (train.model=star_cnn) consumes, then prints their ratio.
Target: input >= 5x consumption, so the input never starves the accelerator.

    python benchmarks/input_pipeline.py [--faces-dir DIR --split-csv CSV] [--batches N]
                                        [--out JSON]

Without --faces-dir, LFW-7 (the people with >= 70 photos in ../shared/datasets/lfw-subset)
is centre-cropped to 64x64 gray faces in a temp dir, like extract_faces would write them.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from starrec.config import TrainParams, load_config  # noqa: E402
from starrec.dataset.augment import online_augmentation_layers  # noqa: E402
from starrec.dataset.tfrecords import (  # noqa: E402
    list_shards,
    load_faces,
    make_dataset,
    read_split_table,
    write_tfrecords,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "lfw-subset"


def build_lfw7(dest: Path, source: Path, size: int, min_photos: int = 70) -> tuple[Path, Path]:
    """Faces dir (centre crop of the aligned LFW photos) and a stratified 60/20/20 split.csv."""
    rows = []
    for person in sorted(p.name for p in source.iterdir() if p.is_dir()):
        photos = sorted((source / person).glob("*.jpg"))
        if len(photos) < min_photos:
            continue
        (dest / person).mkdir(parents=True, exist_ok=True)
        for photo in photos:
            rel = f"{person}/{photo.stem}_f0.png"
            Image.open(photo).convert("L").crop((70, 70, 180, 180)).resize(
                (size, size), Image.BICUBIC).save(dest / rel)
            rows.append({"face_id": rel[:-4], "class": person, "path": rel})
    faces = pd.DataFrame(rows)
    classes = sorted(faces["class"].unique())
    faces["label"] = faces["class"].map(classes.index)
    train, rest = train_test_split(faces, train_size=0.6, stratify=faces["class"], random_state=42)
    val, test = train_test_split(rest, train_size=0.5, stratify=rest["class"], random_state=42)
    split = pd.concat([train.assign(split="train"), val.assign(split="val"),
                       test.assign(split="test")])
    split["group"] = split["face_id"]
    split[["face_id", "class", "label", "path", "split", "group"]].to_csv(
        dest / "split.csv", index=False)
    return dest, dest / "split.csv"


def default_model(input_shape: tuple[int, ...], n_classes: int, cfg: TrainParams) -> keras.Model:
    """Stand-in for train.model=star_cnn: conv 5x5x64 -> pool -> conv 5x5x64 -> pool ->
    dense 384 -> dense 192 -> softmax, with the defaults' batch norm, dropout and L2."""
    reg = keras.regularizers.L2(cfg.l2)
    x = inputs = keras.Input(input_shape)
    for _ in range(2):
        x = keras.layers.Conv2D(64, 5, padding="same", kernel_regularizer=reg)(x)
        if cfg.batch_norm:
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)
    x = keras.layers.Flatten()(x)
    for units in (384, 192):
        x = keras.layers.Dense(units, activation="relu", kernel_regularizer=reg)(x)
        x = keras.layers.Dropout(cfg.dropout)(x)
    model = keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(x))
    model.compile(keras.optimizers.Adam(cfg.optimizer.learning_rate),
                  "sparse_categorical_crossentropy")
    return model


def input_rate(ds: tf.data.Dataset, batches: int) -> float:
    """Images/s pulled from a repeating dataset, after one warm-up pass (fills the cache)."""
    it = iter(ds)
    for _ in range(max(batches // 4, 30)):
        next(it)
    start, images = time.perf_counter(), 0
    for _ in range(batches):
        images += int(next(it)[0].shape[0])
    return images / (time.perf_counter() - start)


def train_rate(model: keras.Model, batch: tuple[tf.Tensor, tf.Tensor], steps: int) -> float:
    """Images/s one training step consumes: fit on one batch held in memory (no input cost)."""
    ds = tf.data.Dataset.from_tensors(batch).repeat()
    model.fit(ds, steps_per_epoch=10, epochs=1, verbose=0, shuffle=False)  # trace + warm-up
    start = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    return steps * int(batch[0].shape[0]) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces-dir", type=Path)
    parser.add_argument("--split-csv", type=Path)
    parser.add_argument("--image-size", type=int, default=64, help="when building LFW-7")
    parser.add_argument("--batches", type=int, default=300, help="timed input batches")
    parser.add_argument("--steps", type=int, default=60, help="timed training steps")
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    args = parser.parse_args()
    cfg = load_config(Path(__file__).resolve().parents[1] / "params.yaml")
    train_cfg, aug_cfg = cfg.train, cfg.augment
    with tempfile.TemporaryDirectory() as tmp:
        if args.faces_dir is None:
            faces, split_csv = build_lfw7(Path(tmp) / "faces", SHARED, args.image_size)
        else:
            faces, split_csv = args.faces_dir, args.split_csv or args.faces_dir / "split.csv"
        table, classes = read_split_table(split_csv)
        loaded, shape, rejected = load_faces(table, faces, split_csv)
        (Path(tmp) / "tfr").mkdir()
        start = time.perf_counter()
        schema = write_tfrecords(loaded, classes, shape, rejected, cfg.tfrecords.shard_size,
                                 Path(tmp) / "tfr")
        write_rate = len(loaded) / (time.perf_counter() - start)
        files = list_shards(Path(tmp) / "tfr", "train")
        img = schema["image"]
        shape = (img["height"], img["width"], img["channels"])
        n_train, n_classes = schema["splits"]["train"]["records"], len(schema["splits"]["train"]["per_label"])

        def dataset(cache: bool, augment: bool) -> tf.data.Dataset:
            layers = online_augmentation_layers(aug_cfg, shape[2]) if augment else None
            return make_dataset(files, batch_size=train_cfg.batch_size, shuffle=True,
                                seed=train_cfg.seed, cache=cache, repeat=True, augment=layers)

        rates = {f"input: {'cached' if c else 'uncached'}, {'online aug' if a else 'no aug'}":
                 input_rate(dataset(c, a), args.batches)
                 for c in (True, False) for a in (False, True)}
        model = default_model(shape, n_classes, train_cfg)
        consume = train_rate(model, next(iter(dataset(True, False))), args.steps)

    print(f"\nLFW-7 train split: {n_train} images {shape}, {n_classes} classes, "
          f"batch {train_cfg.batch_size}, {os.cpu_count()} CPU(s), "
          f"devices: {', '.join(d.device_type for d in tf.config.list_logical_devices())}")
    print(f"{'':38s} {'images/s':>10s} {'x train step':>13s}")
    print(f"{'train step (star_cnn stand-in)':38s} {consume:10.0f} {1.0:12.1f}x")
    for name, rate in rates.items():
        verdict = "ok" if rate >= 5 * consume else "below 5x target"
        print(f"{name:38s} {rate:10.0f} {rate / consume:12.1f}x  {verdict}")
    print(f"{'TFRecord write (PNG bytes as they are)':38s} {write_rate:10.0f}")
    if args.out:
        args.out.write_text(json.dumps({
            "images": n_train, "shape": list(shape), "batch_size": train_cfg.batch_size,
            "tfrecord_write_images_per_s": round(write_rate, 1),
            "train_step_images_per_s": {"star_cnn": round(consume, 1)},
            "input_images_per_s": {k: round(v, 1) for k, v in rates.items()}}, indent=2) + "\n")


if __name__ == "__main__":
    main()
