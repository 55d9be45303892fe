"""Train the backbone with an ArcFace head on (face crop, identity) arrays, through the
training loop the star classifier uses (`train.fit`).

ArcFace over triplet / supervised-contrastive: it needs no pair or triplet mining and no
large multi-positive batches (a few dozen identities with 20–100 photos each train well with
plain shuffled batches), and its margin acts directly on the cosine that verification and
prototype matching use.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from starrec.config import PretrainAugment, PretrainParams
from starrec.pretrain.arcface import ArcMarginHead
from starrec.pretrain.backbone import build_backbone
from starrec.train.fit import fingerprint, fit
from starrec.train.schedules import cosine

log = logging.getLogger(__name__)


def augmentation(cfg: PretrainAugment, seed: int) -> keras.Sequential:
    """Random flip / rotation / zoom / shift / contrast / brightness, active only in training."""
    layers: list[keras.Layer] = []
    if cfg.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
    if cfg.rotation_deg:
        layers.append(keras.layers.RandomRotation(cfg.rotation_deg / 360.0, fill_mode="reflect",
                                                  seed=seed + 1))
    if cfg.zoom:
        layers.append(keras.layers.RandomZoom(cfg.zoom, fill_mode="reflect", seed=seed + 2))
    if cfg.translation:
        layers.append(keras.layers.RandomTranslation(cfg.translation, cfg.translation,
                                                     fill_mode="reflect", seed=seed + 3))
    if cfg.contrast:
        layers.append(keras.layers.RandomContrast(cfg.contrast, value_range=(0.0, 1.0),
                                                  seed=seed + 4))
    if cfg.brightness:
        layers.append(keras.layers.RandomBrightness(cfg.brightness, value_range=(0.0, 1.0),
                                                    seed=seed + 5))
    return keras.Sequential(layers, name="augment")


def device_name() -> str:
    """`GPU` when TensorFlow sees one (training then runs there), else `CPU`."""
    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def train_backbone(cfg: PretrainParams, images: np.ndarray, labels: np.ndarray,
                   checkpoint_dir: Path) -> tuple[keras.Model, dict[str, Any]]:
    """Fit backbone + ArcFace head on float32 [0, 1] crops (N, H, W, C) and int labels
    0..K-1 through the shared training loop (cosine LR per epoch, resumable from
    `checkpoint_dir`); returns the backbone (embedding model) and the history with timing."""
    keras.utils.set_random_seed(cfg.seed)
    n_classes = int(labels.max()) + 1
    backbone = build_backbone(tuple(images.shape[1:]), cfg)
    image_in = keras.Input(shape=images.shape[1:], name="face")
    label_in = keras.Input(shape=(), dtype="int32", name="label")
    emb = backbone(augmentation(cfg.augment, cfg.seed)(image_in))
    logits = ArcMarginHead(n_classes, cfg.arc_scale, cfg.arc_margin, name="arcface")([emb, label_in])
    model = keras.Model([image_in, label_in], logits)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    ds = (tf.data.Dataset.from_tensor_slices(((images, labels.astype("int32")), labels))
          .shuffle(len(images), seed=cfg.seed, reshuffle_each_iteration=True)
          .batch(cfg.batch_size).prefetch(tf.data.AUTOTUNE))
    device = device_name()
    log.info("pretrain: %d faces of %d people, %d epochs on %s", len(images), n_classes,
             cfg.epochs, device)
    start = time.perf_counter()
    history = fit(model, ds, epochs=cfg.epochs,
                  lr=lambda epoch: cosine(cfg.learning_rate, epoch, cfg.epochs, 0.0),
                  checkpoint_dir=checkpoint_dir,
                  run_key=fingerprint(model, cfg.model_dump(mode="json"),
                                      {"faces": len(images), "classes": n_classes}))
    seconds = time.perf_counter() - start
    curves = {k: history[k].astype(float).tolist() for k in history.columns if k != "epoch"}
    return backbone, {"history": curves, "train_seconds": seconds, "device": device,
                      "epochs": cfg.epochs,
                      "images_per_second": len(images) * cfg.epochs / max(seconds, 1e-9)}
