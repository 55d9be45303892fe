"""Stage `pretrain`: the public data set's TFRecords → a face-embedding backbone in
`paths.models` (backbone.keras, backbone_meta.json, backbone_impostors.npz,
backbone_report.json), registered in MLflow.

The star data set's people (the ok classes of its raw manifest) are left out; held-out
public identities verify the embedding and make the impostor bank `starrec enroll` uses.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from starrec.artifacts import (
    BACKBONE,
    BACKBONE_IMPOSTORS,
    BACKBONE_META,
    BACKBONE_REPORT,
    LABEL_MAP,
    MANIFEST,
    PRETRAIN_CHECKPOINTS,
    PUBLIC,
    SCHEMA,
    SPLITS,
)
from starrec.config import Config
from starrec.dataset.tfrecords import load_split, read_label_map, read_schema
from starrec.io import atomic_path, save_keras, write_json_atomic
from starrec.model_meta import ModelMeta, write_meta
from starrec.faces.embed import embed
from starrec.pretrain.identities import excluded, split_people, target_names
from starrec.pretrain.tracking import log_to_mlflow, pretrain_run
from starrec.pretrain.train import train_backbone
from starrec.pretrain.verify import verification
from starrec.errors import StageError
from starrec.stage import run_stage

log = logging.getLogger("starrec.pretrain")


def main(cfg: Config) -> None:
    with pretrain_run(cfg.pretrain, cfg.mlflow) as uri:  # the run lasts as long as the work
        train_and_report(cfg, uri)


def train_and_report(cfg: Config, uri: str) -> None:
    """Train, verify, write the outputs and log them to the active run."""
    p, models = cfg.pretrain, cfg.paths.models
    start = time.perf_counter()
    images, names = public_faces(cfg.datasets[PUBLIC].paths.tfrecords)
    stars = target_names(cfg.paths.raw / MANIFEST)
    dropped = excluded(set(names), stars)
    keep = ~np.isin(names, dropped)
    log.info("excluded %d star people from pretraining: %s", len(dropped),
             ", ".join(dropped) or "none")
    images, names = images[keep], names[keep]
    train_people, held_people = split_people(names, p.holdout_people, p.seed)
    is_train = np.isin(names, train_people)
    ids = np.searchsorted(np.array(train_people), names[is_train])
    backbone, fit = train_backbone(p, images[is_train], ids, models / PRETRAIN_CHECKPOINTS)

    held_emb = embed(backbone, images[~is_train])
    verify = verification(held_emb, names[~is_train], p.pairs, p.seed)
    log.info("verification on %d held-out people: ROC AUC %.3f, accuracy %.3f at cosine %.3f",
             len(held_people), verify["roc_auc"], verify["accuracy"], verify["threshold"])

    save_keras(backbone, models / BACKBONE)
    pick = np.random.default_rng(p.seed).permutation(len(held_emb))[: p.gallery.max_impostors]
    with atomic_path(models / BACKBONE_IMPOSTORS) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, embeddings=held_emb[pick], names=names[~is_train][pick])
    image_size, _, channels = images.shape[1:]
    write_meta(models / BACKBONE_META, ModelMeta(
        image_size=int(image_size), channels=int(channels), embedding_dim=p.embedding_dim,
        extract=cfg.extract, verification_threshold=verify["threshold"]))
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
    report["mlflow"] = log_to_mlflow(p, uri, backbone, report, fit["history"],
                                     [models / BACKBONE_META])
    write_json_atomic(models / BACKBONE_REPORT, report)


def public_faces(tfrecord_dir) -> tuple[np.ndarray, np.ndarray]:
    """Every record of every split with records: float32 [0, 1] images and person names
    (pretraining splits identities by person, so the stratified photo split is pooled)."""
    try:
        classes = np.array(read_label_map(tfrecord_dir))
        counts = read_schema(tfrecord_dir)["splits"]
    except (OSError, ValueError, KeyError) as exc:
        raise StageError(f"{tfrecord_dir}: cannot read {LABEL_MAP} / {SCHEMA} ({exc})") from exc
    parts = [load_split(tfrecord_dir, s) for s in SPLITS if counts.get(s, {}).get("records")]
    if not parts:
        raise StageError(f"{tfrecord_dir}: no TFRecord shards")
    return np.concatenate([x for x, _ in parts]), classes[np.concatenate([y for _, y in parts])]


if __name__ == "__main__":
    run_stage(main)
