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
    MANIFEST,
    PRETRAIN_CHECKPOINTS,
    PUBLIC,
)
from starrec.config import Config
from starrec.dataset.tfrecords import load_pooled
from starrec.faces.embed import embed
from starrec.io import atomic_path, save_keras, write_json_atomic
from starrec.model_meta import ModelMeta, write_meta
from starrec.pretrain.identities import pretraining_people, target_names
from starrec.pretrain.mlflow_run import log_to_mlflow, pretrain_run
from starrec.pretrain.train import train_backbone
from starrec.pretrain.verify import verification
from starrec.stage import run_stage

log = logging.getLogger("starrec.pretrain")


def main(cfg: Config) -> None:
    p, models = cfg.pretrain, cfg.paths.models
    with pretrain_run(p, cfg.mlflow) as uri:  # the run lasts as long as the work
        start = time.perf_counter()
        images, names = load_pooled(cfg.datasets[PUBLIC].paths.tfrecords)
        stars = target_names(cfg.paths.raw / MANIFEST)
        keep, is_train, people = pretraining_people(names, stars, p.holdout_people, p.seed)
        log.info("excluded %d star people from pretraining: %s", len(people["excluded"]),
                 ", ".join(people["excluded"]) or "none")
        images, names = images[keep], names[keep]
        ids = np.searchsorted(np.array(people["train"]), names[is_train])
        backbone, fit = train_backbone(p, images[is_train], ids, models / PRETRAIN_CHECKPOINTS)
        held_emb, held_names = embed(backbone, images[~is_train]), names[~is_train]
        verify = verification(held_emb, held_names, p.pairs, p.seed)
        log.info("verification on %d held-out people: ROC AUC %.3f, accuracy %.3f at cosine "
                 "%.3f", len(people["held_out"]), verify["roc_auc"], verify["accuracy"],
                 verify["threshold"])
        save_keras(backbone, models / BACKBONE)
        pick = np.random.default_rng(p.seed).permutation(len(held_emb))[: p.gallery.max_impostors]
        with atomic_path(models / BACKBONE_IMPOSTORS) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, embeddings=held_emb[pick], names=held_names[pick])
        image_size, _, channels = images.shape[1:]
        write_meta(models / BACKBONE_META, ModelMeta(
            image_size=int(image_size), channels=int(channels), embedding_dim=p.embedding_dim,
            extract=cfg.extract, verification_threshold=verify["threshold"]))
        report = {
            "verification": verify,
            "identities": {"train": len(people["train"]), "held_out": len(people["held_out"]),
                           "held_out_people": people["held_out"]},
            "faces": {"train": int(is_train.sum()), "held_out": int((~is_train).sum())},
            "excluded_targets": people["excluded"], "star_classes": stars,
            "timing": {**{k: fit[k] for k in ("train_seconds", "device", "epochs",
                                              "images_per_second")},
                       "total_seconds": time.perf_counter() - start},
            "final_train": {k: v[-1] for k, v in fit["history"].items()}}
        report["mlflow"] = log_to_mlflow(p, uri, backbone, report, fit["history"],
                                         [models / BACKBONE_META])
        write_json_atomic(models / BACKBONE_REPORT, report)


if __name__ == "__main__":
    run_stage(main)
