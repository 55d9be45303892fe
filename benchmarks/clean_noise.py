"""The class cleaner (faces/clean.py) on injected label noise, real LFW photos and SFace.

    python benchmarks/clean_noise.py [--params params.yaml] [--stars 12] [--photos 40]
                                     [--shares 0.05 0.1 0.2] [--seeds 5] [--sheet flagged.png]

The `--stars` LFW people with the most photos, `--photos` each (YuNet's central face, SFace).
Per noise share and seed:
- swaps: that share of faces moved to another star. Precision against the moved faces, and
  counting as right the `conflict` flags on a photo left behind whose near-identical shot
  (cosine >= duplicate_above) was moved, which the rule must flag; recall of the moved faces.
- strangers: that share of faces added, each of another LFW person, filed under a star.
With `--sheet`, the flagged faces of the 10 % run (swaps and strangers, seed 0) are drawn with
their reasons (the aligned crops go to a temporary dir, never into the repo).
The table goes to stdout; the figures to benchmarks/clean_noise.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from face_models import DATASETS, central
from PIL import Image
from rich.console import Console
from rich.table import Table

from starrec.config import CleanParams, load_config
from starrec.faces.clean import clean_faces, swap_labels, write_flagged_sheet
from starrec.faces.detectors import detect_scaled, make_detector
from starrec.faces.embed import make_embedder
from starrec.faces.image import decode_rgb

HERE = Path(__file__).resolve().parent
log = logging.getLogger("clean_noise")


def embed_lfw(files: list[Path], cfg) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(faces table, embeddings, aligned crops) of each photo's central face."""
    yunet = make_detector(cfg.extract.model_copy(update={"detector": "yunet"}), cfg.faces.models,
                          None)
    sface = make_embedder(cfg.faces, None, "sface")
    rows, crops = [], []
    for f in files:
        rgb = decode_rgb(f)
        found = detect_scaled(yunet, rgb, cfg.extract.detect_max_side, 1)
        if found:
            crops.append(sface.prepare(rgb, central(found, rgb.shape)))
            rows.append({"face_id": f.stem, "class": f.parent.name, "photo": f.name})
    crops = np.stack(crops)
    return pd.DataFrame(rows), sface.embed(crops), crops


def scores(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hits = (flagged & truth).sum()
    return float(hits / max(flagged.sum(), 1)), float(hits / max(truth.sum(), 1))


def swap_run(faces: pd.DataFrame, x: np.ndarray, cfg: CleanParams, share: float, seed: int
             ) -> tuple[dict[str, float], pd.DataFrame]:
    noisy, moved = swap_labels(faces["class"], share, seed)
    out = clean_faces(faces.assign(**{"class": noisy}), x, cfg)
    flagged = (out["flag"] != "").to_numpy()
    same = faces["class"].to_numpy()[:, None] == faces["class"].to_numpy()[None, moved]
    twins = ~moved & ((x @ x[moved].T >= cfg.duplicate_above) & same).any(axis=1)
    precision, recall = scores(flagged, moved)
    return {"precision": precision, "precision_with_twins": scores(flagged, moved | twins)[0],
            "recall": recall, "moved": int(moved.sum()), "flagged": int(flagged.sum())}, out


def stranger_run(faces: pd.DataFrame, x: np.ndarray, strangers: pd.DataFrame, xs: np.ndarray,
                 cfg: CleanParams, share: float, seed: int
                 ) -> tuple[dict[str, float], pd.DataFrame]:
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(strangers), min(len(strangers), round(share * len(faces))), replace=False)
    added = strangers.iloc[pick].assign(**{"class": rng.choice(sorted(faces["class"].unique()),
                                                               len(pick))})
    out = clean_faces(pd.concat([faces, added], ignore_index=True),
                      np.concatenate([x, xs[pick]]), cfg)
    truth = np.r_[np.zeros(len(faces), bool), np.ones(len(pick), bool)]
    precision, recall = scores((out["flag"] != "").to_numpy(), truth)
    return {"precision": precision, "recall": recall, "added": len(pick)}, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--stars", type=int, default=12)
    parser.add_argument("--photos", type=int, default=40)
    parser.add_argument("--shares", type=float, nargs="+", default=[0.05, 0.1, 0.2])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sheet", type=Path, help="PNG of the faces flagged at 10 %% noise")
    parser.add_argument("--out", type=Path, default=HERE / "clean_noise.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    cfg = load_config(args.params)
    lfw = DATASETS / "lfw-subset"
    counts = {d.name: len(list(d.glob("*.jpg"))) for d in lfw.iterdir() if d.is_dir()}
    people = sorted(counts, key=lambda name: (-counts[name], name))
    star_files = [f for who in people[:args.stars]
                  for f in sorted((lfw / who).glob("*.jpg"))[:args.photos]]
    other_files = [f for who in people[args.stars:]
                   for f in sorted((lfw / who).glob("*.jpg"))[:2]]
    log.info("embedding %d star photos and %d photos of %d other people", len(star_files),
             len(other_files), len(people) - args.stars)
    faces, x, crops = embed_lfw(star_files, cfg)
    strangers, xs, stranger_crops = embed_lfw(other_files, cfg)
    clean = clean_faces(faces, x, cfg.clean)
    report = {"settings": {**cfg.clean.model_dump(), "stars": args.stars, "photos": args.photos,
                           "faces": len(faces), "stranger_faces": len(strangers),
                           "seeds": args.seeds},
              "clean_data_flagged": int((clean["flag"] != "").sum()), "shares": {}}
    for share in args.shares:
        runs = [(swap_run(faces, x, cfg.clean, share, s)[0],
                 stranger_run(faces, x, strangers, xs, cfg.clean, share, s)[0])
                for s in range(args.seeds)]
        report["shares"][str(share)] = {
            "swaps": {k: [r[0][k] for r in runs] for k in runs[0][0]},
            "strangers": {k: [r[1][k] for r in runs] for k in runs[0][1]}}
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    show(report)
    log.info("wrote %s", args.out)
    if args.sheet:
        sheet(faces, x, crops, strangers, xs, stranger_crops, cfg.clean, args.sheet)


def sheet(faces, x, crops, strangers, xs, stranger_crops, cfg: CleanParams, out: Path) -> None:
    """Flagged faces of the 10 % swap run and the 10 % stranger run (seed 0), one sheet."""
    swapped = swap_run(faces, x, cfg, 0.1, 0)[1]
    added = stranger_run(faces, x, strangers, xs, cfg, 0.1, 0)[1]
    all_crops = dict(zip(faces["face_id"], crops, strict=True))
    all_crops.update(zip(strangers["face_id"], stranger_crops, strict=True))
    flagged = pd.concat([swapped[swapped["flag"] != ""], added[added["flag"] != ""]])
    flagged = flagged.drop_duplicates("face_id")
    with tempfile.TemporaryDirectory() as tmp:
        for face_id in flagged["face_id"]:
            Image.fromarray(all_crops[face_id][..., ::-1]).save(Path(tmp) / f"{face_id}.png")
        shown = write_flagged_sheet(flagged.assign(path=flagged["face_id"] + ".png"), Path(tmp),
                                    out, per_class=8)
    log.info("wrote %s (%d of %d flagged faces)", out, shown, len(flagged))


def show(report: dict) -> None:
    s = report["settings"]
    table = Table(title=f"clean on LFW: {s['stars']} stars x {s['photos']} photos ({s['faces']} "
                        f"faces), {s['seeds']} seeds, far_below {s['far_below']}, "
                        f"duplicate_above {s['duplicate_above']}; clean data: "
                        f"{report['clean_data_flagged']} flagged")
    for col in ("noise", "swaps: precision", "precision (+ twins)", "recall",
                "strangers: precision", "recall"):
        table.add_column(col, justify="right")

    def cell(values: list[float]) -> str:
        return f"{np.mean(values):.3f} (min {np.min(values):.3f})"

    for share, r in report["shares"].items():
        sw, st = r["swaps"], r["strangers"]
        table.add_row(f"{float(share):.0%}", cell(sw["precision"]),
                      cell(sw["precision_with_twins"]), cell(sw["recall"]),
                      cell(st["precision"]), cell(st["recall"]))
    Console(width=140).print(table)


if __name__ == "__main__":
    main()
