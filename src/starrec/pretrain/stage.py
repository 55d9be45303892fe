"""The `pretrain` stage: public faces (TFRecords) → backbone.keras + verification report.

Outputs beside the backbone: `backbone_meta.json` (input shape, extract params — so
enrolment cuts faces the same way), `backbone_impostors.npz` (embeddings of held-out
public faces, to calibrate the enrolment `unknown` threshold), `backbone_report.json`.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from starrec.config import ExtractParams, MlflowParams, PretrainParams
from starrec.dataset.tfrecords import (SPLITS, list_shards, make_dataset, read_label_map,
                                       read_schema)
from starrec.enroll.gallery import IMPOSTORS_NPZ, META_JSON
from starrec.io import atomic_path, write_json_atomic
from starrec.pretrain.backbone import embed
from starrec.pretrain.identities import excluded, split_people, target_names
from starrec.pretrain.tracking import log_to_mlflow
from starrec.pretrain.train import train_backbone
from starrec.pretrain.verify import verification
from starrec.stage import StageError

log = logging.getLogger(__name__)
BACKBONE = "backbone.keras"
REPORT = "backbone_report.json"


def load_faces(tfrecord_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Every record of every split: float32 [0, 1] images and their person names (identity
    split for pretraining is by person, so the stratified photo split is pooled)."""
    classes = read_label_map(tfrecord_dir)
    images, labels = [], []
    counts = read_schema(tfrecord_dir)["splits"]
    for split in SPLITS:
        if not counts.get(split, {}).get("records"):
            continue
        for x, y in make_dataset(list_shards(tfrecord_dir, split), batch_size=512, cache=False):
            images.append(x.numpy())
            labels.append(y.numpy())
    if not images:
        raise StageError(f"{tfrecord_dir}: no TFRecord shards")
    return np.concatenate(images), np.array(classes)[np.concatenate(labels)]


def save_keras(model: Any, target: Path) -> None:
    """Keras wants a `.keras` name: save in a temp dir beside `target`, then rename."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        model.save(tmp / target.name)
        os.replace(tmp / target.name, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pretrain(cfg: PretrainParams, extract: ExtractParams, tracking: MlflowParams,
             data_dir: Path, targets: Path, models_dir: Path) -> dict[str, Any]:
    """Train on the public identities minus the star set's people (`targets`), verify on
    held-out identities, write the outputs, log and register in MLflow."""
    start = time.perf_counter()
    images, names = load_faces(Path(data_dir))
    stars = target_names(Path(targets))
    dropped = excluded(set(names), stars)
    keep = ~np.isin(names, dropped)
    log.info("excluded %d star people from pretraining: %s", len(dropped), ", ".join(dropped) or "none")
    images, names = images[keep], names[keep]
    train_people, held_people = split_people(names, cfg.holdout_people, cfg.seed)
    is_train = np.isin(names, train_people)
    ids = np.searchsorted(np.array(train_people), names[is_train])
    backbone, fit = train_backbone(cfg, images[is_train], ids)

    held_emb = embed(backbone, images[~is_train])
    verify = verification(held_emb, names[~is_train], cfg.pairs, cfg.seed)
    log.info("verification on %d held-out people: ROC AUC %.3f, accuracy %.3f at cosine %.3f",
             len(held_people), verify["roc_auc"], verify["accuracy"], verify["threshold"])

    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    save_keras(backbone, models_dir / BACKBONE)
    pick = np.random.default_rng(cfg.seed).permutation(len(held_emb))[: cfg.gallery.max_impostors]
    with atomic_path(models_dir / IMPOSTORS_NPZ) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, embeddings=held_emb[pick], names=names[~is_train][pick])
    image_size, _, channels = images.shape[1:]
    write_json_atomic(models_dir / META_JSON, {
        "image_size": int(image_size), "channels": int(channels),
        "embedding_dim": cfg.embedding_dim, "extract": extract.model_dump(),
        "verification_threshold": verify["threshold"]})
    report = {
        "verification": verify,
        "identities": {"train": len(train_people), "held_out": len(held_people),
                       "held_out_people": held_people},
        "faces": {"train": int(is_train.sum()), "held_out": int((~is_train).sum())},
        "excluded_targets": dropped, "star_classes": stars,
        "timing": {"train_seconds": fit["train_seconds"], "device": fit["device"],
                   "epochs": fit["epochs"], "images_per_second": fit["images_per_second"],
                   "total_seconds": time.perf_counter() - start},
        "final_train": {k: v[-1] for k, v in fit["history"].items()},
    }
    report["mlflow"] = log_to_mlflow(cfg, tracking, models_dir, report, fit["history"])
    write_json_atomic(models_dir / REPORT, report)
    return report
