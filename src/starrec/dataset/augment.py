"""Offline augmentation of the train shards (for the `augment` stage) and the online Keras layers.

Each copy draws its op values from a numpy Generator seeded with (seed, record index, copy),
so the output is reproducible byte for byte and one record's copies do not depend on the
others. Every value is drawn whether or not its op is enabled, so turning one op off leaves
the others' values unchanged. Val and test shards are never read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import keras
import matplotlib
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from starrec.artifacts import AUGMENTED_SPLIT
from starrec.config import AugmentParams, RangeOp
from starrec.dataset.tfrecords import (
    list_shards,
    make_example,
    make_schema,
    parse_example,
    read_label_map,
    read_schema,
    write_shards,
)
from starrec.errors import StageError

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

log = logging.getLogger(__name__)

PREVIEW_ROWS = 8
PREVIEW_COPIES = 5


@dataclass(frozen=True)
class Draw:
    """The op values of one augmented copy (all drawn, applied only where enabled)."""

    flip: bool
    rotation_deg: float
    zoom: float
    tx: float
    ty: float
    brightness: float
    contrast: float
    saturation: float
    hue: float

    @classmethod
    def sample(cls, cfg: AugmentParams, index: int, copy: int) -> Draw:
        rng = np.random.default_rng([cfg.seed, index, copy])

        def u(op: RangeOp) -> float:
            return float(rng.uniform(op.low, op.high))

        return cls(flip=bool(rng.random() < 0.5), rotation_deg=u(cfg.rotation_deg),
                   zoom=u(cfg.zoom), tx=u(cfg.translation), ty=u(cfg.translation),
                   brightness=u(cfg.brightness), contrast=u(cfg.contrast),
                   saturation=u(cfg.saturation), hue=u(cfg.hue))


def apply_ops(image: np.ndarray, cfg: AugmentParams, d: Draw) -> np.ndarray:
    """Augment one uint8 (H, W, C) RGB or gray image; returns uint8 of the same shape.

    Rotation, zoom and translation are one affine warp (a single interpolation, reflected
    borders like Keras' default); colour ops work on [0, 1] floats like tf.image's adjust_*.
    """
    x = image.astype(np.float32) / 255.0
    h, w, c = x.shape
    if cfg.flip and d.flip:
        x = x[:, ::-1]
    if cfg.rotation_deg.enabled or cfg.zoom.enabled or cfg.translation.enabled:
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2),
                                    d.rotation_deg if cfg.rotation_deg.enabled else 0.0,
                                    d.zoom if cfg.zoom.enabled else 1.0)
        if cfg.translation.enabled:
            m[:, 2] += (d.tx * w, d.ty * h)
        x = cv2.warpAffine(np.ascontiguousarray(x), m, (w, h), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT_101).reshape(h, w, c)
    if cfg.brightness.enabled:
        x = x + d.brightness
    if cfg.contrast.enabled:
        mean = x.mean(axis=(0, 1), keepdims=True)
        x = (x - mean) * d.contrast + mean
    if c == 3 and (cfg.saturation.enabled or cfg.hue.enabled):
        hsv = cv2.cvtColor(np.clip(x, 0.0, 1.0), cv2.COLOR_RGB2HSV)  # H in degrees
        if cfg.saturation.enabled:
            hsv[..., 1] = np.clip(hsv[..., 1] * d.saturation, 0.0, 1.0)
        if cfg.hue.enabled:
            hsv[..., 0] = np.mod(hsv[..., 0] + d.hue * 360.0, 360.0)
        x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def read_train(tfrecord_dir: Path) -> tuple[dict[str, Any], list[str], list[Path]]:
    """The schema, class names and train shards of a TFRecord dir; StageError if unusable."""
    try:
        schema = read_schema(tfrecord_dir)
        classes = read_label_map(tfrecord_dir)
        shards = list_shards(tfrecord_dir, "train")
    except (OSError, ValueError, KeyError) as exc:
        raise StageError(f"{tfrecord_dir}: cannot read the train TFRecords ({exc})") from exc
    if schema["splits"]["train"]["records"] == 0:
        raise StageError(f"{tfrecord_dir}: no train records to augment")
    return schema, classes, shards


def write_augmented(cfg: AugmentParams, schema: dict[str, Any], classes: list[str],
                    shards: list[Path], out_dir: Path
                    ) -> tuple[dict[str, Any], list[tuple[str, list[np.ndarray]]]]:
    """Write `copies` augmented versions of every train record as `train_aug-*` shards into
    `out_dir`; returns their schema and the preview rows (the first face of up to
    PREVIEW_ROWS classes with its first copies)."""
    n_train = schema["splits"]["train"]["records"]
    if schema["image"]["channels"] != 3 and (cfg.saturation.enabled or cfg.hue.enabled):
        log.info("saturation/hue skipped: images have %d channel(s), not RGB",
                 schema["image"]["channels"])
    preview: dict[int, tuple[str, list[np.ndarray]]] = {}
    per_label = dict.fromkeys(classes, 0)

    def records() -> Iterator[bytes]:
        shown_labels: set[int] = set()  # the preview shows the first image of each class
        dataset = tf.data.TFRecordDataset([str(s) for s in shards])
        for index, serialized in enumerate(tqdm(dataset, total=n_train, desc="augment",
                                                leave=False)):
            f = parse_example(serialized)
            image, label = f["image"].numpy(), int(f["label"])
            shown = len(preview) < PREVIEW_ROWS and label not in shown_labels
            if shown:
                shown_labels.add(label)
                preview[index] = (classes[label], [image])
            for copy in range(cfg.copies):
                out = apply_ops(image, cfg, Draw.sample(cfg, index, copy))
                if shown and copy < PREVIEW_COPIES:
                    preview[index][1].append(out)
                per_label[classes[label]] += 1
                png = tf.io.encode_png(out).numpy()
                yield make_example(png, label, f["label_name"].numpy().decode(), out.shape,
                                   f["source_id"].numpy().decode())

    try:
        names = write_shards(records(), n_train * cfg.copies, out_dir, AUGMENTED_SPLIT,
                             schema["shard_size"])
    except (tf.errors.OpError, ValueError) as exc:
        raise StageError(f"{shards[0].parent}: cannot augment the train shards ({exc})") from exc
    out_schema = make_schema(
        [schema["image"][k] for k in ("height", "width", "channels")],
        {AUGMENTED_SPLIT: {"records": n_train * cfg.copies, "shards": names,
                           "per_label": per_label}},
        shard_size=schema["shard_size"], augment=cfg.model_dump())
    return out_schema, list(preview.values())


def save_preview(rows: list[tuple[str, list[np.ndarray]]], path: Path) -> None:
    """One row per train face: the original (its class at left), then its augmented copies."""
    n_cols = max(len(images) for _, images in rows)
    fig, axes = plt.subplots(len(rows), n_cols, figsize=(1.4 * n_cols + 1.2, 1.4 * len(rows) + 0.5),
                             squeeze=False, layout="constrained")
    for r, (name, images) in enumerate(rows):
        for c, ax in enumerate(axes[r]):
            ax.axis("off")
            if c < len(images):
                img = images[c]
                ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=255)
        axes[r][0].text(-0.08, 0.5, name.replace("_", " "), transform=axes[r][0].transAxes,
                        ha="right", va="center", fontsize=7)
    for c in range(n_cols):
        axes[0][c].set_title("original" if c == 0 else f"copy {c}", fontsize=8)
    fig.suptitle("augment: train faces and their augmented copies", fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def online_augmentation_layers(cfg: AugmentParams, channels: int = 1) -> keras.Sequential:
    """Keras preprocessing layers with the same ranges, for augmenting batches on the fly
    (`train.online_augmentation`). Inputs are float images in [0, 1]. Hue and saturation
    are added only for RGB; hue uses a symmetric range of ±max(|low|, |high|)."""
    layers: list[keras.Layer] = []
    seed = iter(range(cfg.seed, cfg.seed + 100))
    if cfg.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=next(seed)))
    if cfg.rotation_deg.enabled:
        r = cfg.rotation_deg
        layers.append(keras.layers.RandomRotation((r.low / 360.0, r.high / 360.0),
                                                  fill_mode="reflect", seed=next(seed)))
    if cfg.zoom.enabled:  # Keras: factor > 0 zooms out; a scale s shows 1/s of the side
        z = (1.0 / cfg.zoom.high - 1.0, 1.0 / cfg.zoom.low - 1.0)
        layers.append(keras.layers.RandomZoom(z, fill_mode="reflect", seed=next(seed)))
    if cfg.translation.enabled:
        t = (cfg.translation.low, cfg.translation.high)
        layers.append(keras.layers.RandomTranslation(t, t, fill_mode="reflect", seed=next(seed)))
    if cfg.brightness.enabled:
        layers.append(keras.layers.RandomBrightness(
            (cfg.brightness.low, cfg.brightness.high), value_range=(0.0, 1.0), seed=next(seed)))
    if cfg.contrast.enabled:
        layers.append(keras.layers.RandomContrast(
            (1.0 - cfg.contrast.low, cfg.contrast.high - 1.0), value_range=(0.0, 1.0),
            seed=next(seed)))
    if channels == 3 and cfg.saturation.enabled:  # Keras factor f scales saturation by f/(1-f)
        s = cfg.saturation
        layers.append(keras.layers.RandomSaturation(
            (s.low / (1.0 + s.low), s.high / (1.0 + s.high)), value_range=(0.0, 1.0),
            seed=next(seed)))
    if channels == 3 and cfg.hue.enabled:  # Keras shifts hue by ±factor/2 of the circle
        layers.append(keras.layers.RandomHue(
            (0.0, 2.0 * max(abs(cfg.hue.low), abs(cfg.hue.high))), value_range=(0.0, 1.0),
            seed=next(seed)))
    return keras.Sequential(layers, name="online_augmentation")
