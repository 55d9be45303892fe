"""Pretrained face models against the current path, on real photos (issue 11's targets).

    python benchmarks/face_models.py [--params params.yaml] [--embedders sface dlib]
                                     [--pairs 3000] [--draws 10] [--shots 5] [--seed 0]

- five-celebrity-faces, all 118 photos: share of photos where a face is found, YuNet vs
  Haar (both with params.yaml's extract settings: detect_max_side, min_face_size; YuNet
  also counted with no minimum size); detection ms per photo.
- per embedder: align+embed ms per face, detect+align+embed faces/s on this machine;
  five-celebrity train -> val nearest-prototype accuracy (every train photo, and `--shots`
  photos per star, mean over `--draws` draws; a val photo without a face counts as wrong);
  LFW-62 verification accuracy of `--pairs` same + `--pairs` different random pairs at the
  best threshold (and ROC AUC).

The table goes to stdout (rich); the figures to benchmarks/face_models.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score

from starrec.config import Config, load_config
from starrec.faces.model_files import licences
from starrec.faces.detect import find_faces
from starrec.faces.detectors import Detection, Detector, detect_scaled, make_detector
from starrec.faces.embed import Embedder, make_embedder
from starrec.faces.image import decode_rgb

HERE = Path(__file__).resolve().parent
DATASETS = Path(os.environ.get("STARREC_SHARED_DATASETS", HERE.parents[1] / "shared" / "datasets"))
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
log = logging.getLogger("face_models")


@dataclass
class Embedded:
    """One embedding per photo (rows of photos without a face are zero, `found` False)."""

    vectors: np.ndarray
    found: np.ndarray
    detect_s: float
    embed_s: float

    @property
    def faces(self) -> int:
        return int(self.found.sum())


def photo_files(root: Path) -> list[Path]:
    return sorted(f for f in root.rglob("*") if f.suffix.lower() in PHOTO_SUFFIXES)


def central(faces: list[Detection], shape: tuple[int, ...]) -> Detection:
    """The face nearest the photo centre: where LFW puts the named person."""
    h, w = shape[:2]
    return min(faces, key=lambda d: (d.box[0] + d.box[2] / 2 - w / 2) ** 2
               + (d.box[1] + d.box[3] / 2 - h / 2) ** 2)


def largest(faces: list[Detection], shape: tuple[int, ...]) -> Detection:
    return max(faces, key=lambda d: d.box[2] * d.box[3])


def embed_photos(files: list[Path], detector: Detector, embedder: Embedder, cfg: Config,
                 choose=largest) -> Embedded:
    """Detect (params' detect_max_side, min_face_size), keep one face, align + embed it."""
    out = Embedded(np.zeros((len(files), embedder.dim), np.float32), np.zeros(len(files), bool), 0.0, 0.0)
    ex = cfg.extract
    for i, file in enumerate(files):
        rgb = decode_rgb(file)
        start = time.perf_counter()
        faces = [d for d in detect_scaled(detector, rgb, ex.detect_max_side, ex.min_face_size)
                 if max(d.box[2], d.box[3]) >= ex.min_face_size]
        mid = time.perf_counter()
        if faces:
            out.vectors[i] = embedder.embed(embedder.prepare(rgb, choose(faces, rgb.shape))[None])[0]
            out.found[i] = True
        out.detect_s += mid - start
        out.embed_s += time.perf_counter() - mid
    return out


def detection_rates(files: list[Path], cfg: Config) -> dict[str, dict[str, float]]:
    """Per detector: share of photos with a face kept by the extract stage's own code
    (`find_faces`: min_face_size), with any face at all, and ms per photo."""
    out = {}
    images = [decode_rgb(f) for f in files]
    for name in ("haar", "yunet"):
        extract = cfg.extract.model_copy(update={"detector": name})
        detector = make_detector(extract, cfg.faces.models, cfg.download.http)
        start = time.perf_counter()
        kept = [bool(find_faces(rgb, extract, detector).crops) for rgb in images]
        seconds = time.perf_counter() - start
        anywhere = [bool(detect_scaled(detector, rgb, extract.detect_max_side, 1)) for rgb in images]
        out[name] = {"found": float(np.mean(kept)), "found_any_size": float(np.mean(anywhere)),
                     "ms_per_photo": 1000 * seconds / len(images)}
    return out


def prototypes(x: np.ndarray, y: np.ndarray, classes: list[str]) -> np.ndarray:
    protos = np.stack([x[y == c].mean(axis=0) for c in classes])
    return protos / np.linalg.norm(protos, axis=1, keepdims=True)


def prototype_accuracy(train: Embedded, y_train: np.ndarray, val: Embedded, y_val: np.ndarray,
                       shots: int, draws: int, seed: int) -> dict[str, float]:
    """Nearest class prototype (mean unit embedding) on val: every train photo with a face,
    then `shots` of them per class over `draws` seeded draws. Val photos without a face
    count as wrong."""
    classes = sorted(set(y_val))

    def accuracy(keep: np.ndarray) -> float:
        protos = prototypes(train.vectors[keep], y_train[keep], classes)
        guess = np.asarray(classes)[(val.vectors @ protos.T).argmax(axis=1)]
        return float(np.mean((guess == y_val) & val.found))

    rng = np.random.default_rng(seed)
    few = []
    for _ in range(draws):
        keep = np.zeros(len(y_train), bool)
        for c in classes:
            keep[rng.choice(np.flatnonzero((y_train == c) & train.found), shots, replace=False)] = True
        few.append(accuracy(keep))
    return {"all_train": accuracy(train.found), f"{shots}_shot_mean": float(np.mean(few)),
            f"{shots}_shot_min": float(np.min(few)), "val_photos": len(y_val),
            "val_without_face": int((~val.found).sum())}


def random_pairs(people: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`n` distinct same-person and `n` distinct different-person index pairs, uniformly."""
    i, j = np.triu_indices(len(people), 1)
    same = people[i] == people[j]
    pick_same = rng.choice(np.flatnonzero(same), n, replace=False)
    pick_diff = rng.choice(np.flatnonzero(~same), n, replace=False)
    pairs = np.concatenate([pick_same, pick_diff])
    return np.stack([i[pairs], j[pairs]], axis=1), np.r_[np.ones(n, bool), np.zeros(n, bool)]


def verification(emb: Embedded, people: np.ndarray, n: int, seed: int) -> dict[str, float]:
    """Accuracy at the threshold that maximises it over the pairs, and ROC AUC; a pair with
    a photo where no face was found scores -1 (judged different)."""
    pairs, same = random_pairs(people, n, np.random.default_rng(seed))
    a, b = pairs[:, 0], pairs[:, 1]
    score = np.where(emb.found[a] & emb.found[b],
                     np.einsum("ij,ij->i", emb.vectors[a], emb.vectors[b]), -1.0)
    order = np.argsort(-score)
    # threshold just below the k-th highest score: the top k pairs are called "same"
    correct = np.r_[0, np.cumsum(same[order])] + (~same).sum() - np.r_[0, np.cumsum(~same[order])]
    k = int(correct.argmax())
    threshold = float(score[order][k - 1]) if k else float(score.max()) + 1e-6
    return {"accuracy": float(correct[k] / len(same)), "threshold": threshold,
            "auc": float(roc_auc_score(same, score)), "pairs": int(len(same)),
            "photos_without_face": int((~emb.found).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--embedders", nargs="+", default=["sface"], choices=["sface", "dlib", "own"])
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "face_models.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = load_config(args.params)
    five = DATASETS / "five-celebrity-faces"
    five_files = photo_files(five)
    train = [f for f in five_files if f.relative_to(five).parts[0] == "train"]
    val = [f for f in five_files if f.relative_to(five).parts[0] == "val"]
    lfw_files = photo_files(DATASETS / "lfw-subset")
    lfw_people = np.array([f.parent.name for f in lfw_files])
    y_train = np.array([f.parent.name for f in train])
    y_val = np.array([f.parent.name for f in val])

    report = {"machine": {"cpus": os.cpu_count(), "cv2_threads": cv2.getNumThreads(),
                          "load_avg_1m_at_start": round(os.getloadavg()[0], 2),
                          "cpu": platform.processor() or platform.machine(), "opencv": cv2.__version__},
              "settings": {"detect_max_side": cfg.extract.detect_max_side,
                           "min_face_size": cfg.extract.min_face_size,
                           "haar": cfg.extract.haar.model_dump(),
                           "yunet": cfg.extract.yunet.model_dump(),
                           "pairs": args.pairs, "draws": args.draws, "shots": args.shots,
                           "seed": args.seed},
              "five_celebrity_photos": len(five_files), "lfw62_photos": len(lfw_files)}
    log.info("detection rates on %d five-celebrity photos", len(five_files))
    report["detection"] = detection_rates(five_files, cfg)
    yunet = make_detector(cfg.extract.model_copy(update={"detector": "yunet"}), cfg.faces.models,
                          cfg.download.http)
    report["embedders"] = {}
    for name in args.embedders:
        embedder = make_embedder(cfg.faces, cfg.download.http, name)
        log.info("%s: five-celebrity train/val, then %d LFW-62 photos", name, len(lfw_files))
        e_train, e_val = (embed_photos(f, yunet, embedder, cfg) for f in (train, val))
        e_lfw = embed_photos(lfw_files, yunet, embedder, cfg, choose=central)
        faces = e_train.faces + e_val.faces + e_lfw.faces
        detect_s = e_train.detect_s + e_val.detect_s + e_lfw.detect_s
        embed_s = e_train.embed_s + e_val.embed_s + e_lfw.embed_s
        report["embedders"][name] = {
            "licence": embedder.licence, "input": embedder.input.to_dict(),
            "detect_ms_per_face": 1000 * detect_s / faces, "embed_ms_per_face": 1000 * embed_s / faces,
            "faces_per_s": faces / (detect_s + embed_s), "faces_timed": faces,
            "five_celebrity": prototype_accuracy(e_train, y_train, e_val, y_val, args.shots,
                                                 args.draws, args.seed),
            "lfw62": verification(e_lfw, lfw_people, args.pairs, args.seed)}
    report["licences"] = licences(["yunet", *(["sface"] if "sface" in args.embedders else []),
                                   *(["dlib_resnet", "dlib_shape5"] if "dlib" in args.embedders else [])])
    args.out.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
    show(report, args.shots)
    log.info("wrote %s", args.out)


def show(report: dict, shots: int) -> None:
    console = Console(width=130)
    m = report["machine"]
    det = Table(title=f"Face found, five-celebrity-faces ({report['five_celebrity_photos']} photos; "
                      f"{m['cpus']} cpus, load {m['load_avg_1m_at_start']})")
    for col in ("detector", f"found (min_face_size {report['settings']['min_face_size']})",
                "found (any size)", "detect ms/photo"):
        det.add_column(col, justify="right")
    for name, r in report["detection"].items():
        det.add_row(name, f"{r['found']:.3f}", f"{r['found_any_size']:.3f}", f"{r['ms_per_photo']:.1f}")
    console.print(det)
    emb = Table(title="YuNet + embedder")
    for col in ("embedder", "detect ms/face", "align+embed ms/face", "faces/s",
                "5-celeb val acc, all train", f"5-celeb val acc, {shots}/star: mean, min",
                "LFW-62 pair acc", "AUC", "threshold"):
        emb.add_column(col, justify="right")
    for name, r in report["embedders"].items():
        fc, lfw = r["five_celebrity"], r["lfw62"]
        emb.add_row(name, f"{r['detect_ms_per_face']:.1f}", f"{r['embed_ms_per_face']:.1f}",
                    f"{r['faces_per_s']:.1f}", f"{fc['all_train']:.3f}",
                    f"{fc[f'{shots}_shot_mean']:.3f}, {fc[f'{shots}_shot_min']:.3f}",
                    f"{lfw['accuracy']:.4f}", f"{lfw['auc']:.4f}", f"{lfw['threshold']:.3f}")
    console.print(emb)


if __name__ == "__main__":
    main()
