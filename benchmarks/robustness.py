"""Robustness on LFW-62 (issue 21): the frozen SFace head, the same head trained on augmented
crops too (the fair baseline), nearest prototype and eigenfaces, on clean test faces and at
each named degradation (faces/degrade.py), with params.yaml's settings.

    python benchmarks/robustness.py [--params params.yaml] [--min-photos 20] [--test 0.3]
                                    [--tfrecords DIR --embeddings DIR]

By default the faces are cut here from the LFW people with at least `--min-photos` photos
(YuNet's central face of each photo, aligned 112x112 crops kept in memory, never written),
each person's photos split train/test by a seeded draw (`--test` of them test). With
`--tfrecords` and `--embeddings` it reads a data set's write_tfrecords and embed stage
outputs instead (train and test splits; `faces.embedder`'s npz).
The table goes to stdout; the figures to benchmarks/robustness.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from functools import partial
from pathlib import Path

import numpy as np
from face_models import DATASETS, central
from rich.console import Console
from rich.table import Table

from starrec.artifacts import embeddings_file
from starrec.config import Config, load_config
from starrec.dataset.tfrecords import load_split
from starrec.evaluate.baseline import class_scores, fit_eigenfaces
from starrec.evaluate.compare_embedders import prototype_scores
from starrec.evaluate.robustness import (
    degraded_copies,
    fair_head,
    measure,
    report,
    to_crops,
    views,
)
from starrec.faces.detectors import detect_scaled, make_detector
from starrec.faces.embed import aligned, embed_aligned, make_embedder
from starrec.faces.image import decode_rgb
from starrec.train.embedding_data import embeddings_of
from starrec.train.embedding_head import fit_embedding_head

HERE = Path(__file__).resolve().parent
log = logging.getLogger("robustness")


def lfw_faces(cfg: Config, min_photos: int, test: float, seed: int
              ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """{train, test: (aligned RGB uint8 crops, labels)} and the class names: the central face
    of every photo of the LFW people with at least `min_photos` photos."""
    yunet = make_detector(cfg.extract.model_copy(update={"detector": "yunet"}), cfg.faces.models,
                          None)
    sface = make_embedder(cfg.faces, None, "sface")
    people = sorted(d.name for d in (DATASETS / "lfw-subset").iterdir()
                    if d.is_dir() and len(list(d.glob("*.jpg"))) >= min_photos)
    rng = np.random.default_rng(seed)
    parts: dict[str, tuple[list, list]] = {"train": ([], []), "test": ([], [])}
    for label, who in enumerate(people):
        files = sorted((DATASETS / "lfw-subset" / who).glob("*.jpg"))
        n_test = round(test * len(files))
        for rank, i in enumerate(rng.permutation(len(files))):
            rgb = decode_rgb(files[i])
            found = detect_scaled(yunet, rgb, cfg.extract.detect_max_side, 1)
            if found:
                crops, labels = parts["test" if rank < n_test else "train"]
                crops.append(aligned(sface, rgb, central(found, rgb.shape)))
                labels.append(label)
    return {s: (np.stack(c), np.asarray(y)) for s, (c, y) in parts.items()}, people


def stage_faces(tfrecords: Path, embeddings: Path, embedder: str
                ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, np.ndarray]]:
    """The train and test crops of a data set's TFRecords, and their embed-stage vectors."""
    splits = {s: load_split(tfrecords, s, with_ids=True) for s in ("train", "test")}
    vectors = embeddings_of(embeddings / embeddings_file(embedder),
                            *(ids for _, _, ids in splits.values()))
    return ({s: (to_crops(x), y) for s, (x, y, _) in splits.items()},
            dict(zip(splits, vectors, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--min-photos", type=int, default=20)
    parser.add_argument("--test", type=float, default=0.3)
    parser.add_argument("--tfrecords", type=Path)
    parser.add_argument("--embeddings", type=Path)
    parser.add_argument("--out", type=Path, default=HERE / "robustness.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_config(args.params)
    e, r, t = cfg.evaluate, cfg.evaluate.robustness, cfg.train
    name = cfg.faces.embedder if args.tfrecords else "sface"
    embed = partial(embed_aligned, make_embedder(cfg.faces, None, name))
    start = time.perf_counter()
    if args.tfrecords:
        faces, vectors = stage_faces(args.tfrecords, args.embeddings, name)
        source = f"{args.tfrecords} + {args.embeddings}"
    else:
        faces, _ = lfw_faces(cfg, args.min_photos, args.test, r.seed)
        vectors = {s: embed(c) for s, (c, _) in faces.items()}
        source = f"LFW people with >= {args.min_photos} photos, {args.test:g} of each test"
    prepare_s = time.perf_counter() - start
    (crops_train, y_train), (crops_test, y_test) = faces["train"], faces["test"]
    classes = [str(k) for k in range(int(y_train.max()) + 1)]
    n = len(classes)
    log.info("%d classes, %d train and %d test faces (%.0f s)", n, len(y_train), len(y_test),
             prepare_s)

    start = time.perf_counter()
    head = fit_embedding_head(vectors["train"], y_train, None, None, t.embedding_head, t.seed)[0]
    fair = fair_head(crops_train, vectors["train"], y_train, r.augmented_copies, embed,
                     t.finetune.degrade, t.embedding_head, t.seed)
    eigen = fit_eigenfaces(crops_train.astype(np.float32) / 255.0, y_train, e)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    copies = degraded_copies(crops_test, r.severities, r.seed)
    namers = {
        "head (frozen SFace)": lambda v: head.predict(v.embeddings, verbose=0),
        f"head on augmented crops ({r.augmented_copies} copies)":
            lambda v: fair.predict(v.embeddings, verbose=0),
        "nearest prototype": lambda v: prototype_scores(vectors["train"], y_train,
                                                        v.embeddings),
        "eigenfaces": lambda v: class_scores(eigen, v.images, n)}
    scores = measure(views(copies, 3, embed, vectors["test"]), y_test, classes, e.top_k, namers)
    measure_s = time.perf_counter() - start
    out = {**report(scores, len(y_test), r.seed, copies), "source": source, "classes": n,
           "train_faces": len(y_train), "augmented_copies": r.augmented_copies,
           "seconds": {"faces": round(prepare_s, 1), "fit": round(fit_s, 1),
                       "degrade_embed_score": round(measure_s, 1)}}
    args.out.write_text(json.dumps(out, indent=2) + "\n")

    table = Table(title=f"Accuracy / macro-F1 on {len(y_test)} test faces, {n} people")
    table.add_column("model")
    for s in out["severities"]:
        table.add_column(s, justify="right")
    table.add_column("degraded mean", justify="right")
    for model, by in out["scores"].items():
        mean = out["degraded_mean"][model]
        table.add_row(model, *(f"{m['accuracy']:.3f} / {m['macro_f1']:.3f}" for m in by.values()),
                      f"{mean['accuracy']:.3f} / {mean['macro_f1']:.3f}")
    Console(width=200).print(table)
    log.info("%s written", args.out)


if __name__ == "__main__":
    main()
