"""Face extraction speed and detection rate: our stage (n_jobs 1 and 2, params.yaml's
`extract:`) against the original method (Haar `alt`, scaleFactor 1.1, minNeighbors 5, full
resolution, one thread, no downscale, no minimum size).

    python benchmarks/extract_faces.py [--lfw-sample 300] [--repeat 3] [--params params.yaml]

Every variant does the whole per-photo job (read, detect, crop the largest face, write a PNG);
the best of `--repeat` wall times is kept. "centred" (LFW only): the kept face's centre lies
within 25 px of the photo centre, where LFW puts the person, so false faces don't count.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # read by tqdm at import: no bars in the table

import cv2  # noqa: E402

from starrec.config import ExtractParams, load_config  # noqa: E402
from starrec.faces.extract import Photo, process_photos, unique_stems  # noqa: E402

DATASETS = Path(os.environ.get("STARREC_SHARED_DATASETS",
                               Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def photo_sets(lfw_sample: int, seed: int) -> dict[str, list[Photo]]:
    lfw = sorted((DATASETS / "lfw-subset").glob("*/*.jpg"))
    lfw = sorted(random.Random(seed).sample(lfw, min(lfw_sample, len(lfw))))
    five = sorted((DATASETS / "five-celebrity-faces").glob("*/*/*.jpg"))
    as_items = lambda files, root: [(f.parent.name, f, str(f.relative_to(root))) for f in files]  # noqa: E731
    return {f"lfw-subset ({len(lfw)})": unique_stems(as_items(lfw, DATASETS / "lfw-subset")),
            f"five-celebrity ({len(five)})": unique_stems(
                as_items(five, DATASETS / "five-celebrity-faces"))}


def original(photos: list[Photo], out: Path) -> list[tuple[int, int, int, int] | None]:
    """The original exercise's loop: cv2.imread, gray, detectMultiScale, crop, imwrite."""
    cv2.setNumThreads(1)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt.xml")
    boxes = []
    for i, p in enumerate(photos):
        img = cv2.imread(str(p.file))
        if img is None:
            boxes.append(None)
            continue
        gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        found = cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5)
        if len(found) == 0:
            boxes.append(None)
            continue
        x, y, w, h = max(found, key=lambda b: b[2] * b[3])
        face = cv2.resize(gray[y:y + h, x:x + w], (64, 64), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out / f"{i}.png"), face)
        boxes.append((int(x), int(y), int(w), int(h)))
    return boxes


def ours(photos: list[Photo], out: Path, cfg: ExtractParams,
         max_pixels: int) -> list[tuple[int, int, int, int] | None]:
    rows = process_photos(photos, cfg, out, max_pixels)
    by_photo = {r["source_path"]: (r["box_x"], r["box_y"], r["box_w"], r["box_h"])
                for r in rows if r["status"] == "ok" and r["face_id"].endswith("_f0")}
    return [by_photo.get(p.source_path) for p in photos]


def timed(fn, photos: list[Photo], repeat: int, *args) -> tuple[float, list]:
    best, result = float("inf"), []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = fn(photos, Path(tmp), *args)
            best = min(best, time.perf_counter() - start)
    return len(photos) / best, result


def centred(boxes: list, photos: list[Photo]) -> float:
    hits = 0
    for b, p in zip(boxes, photos, strict=True):
        if b is not None:
            h, w = cv2.imread(str(p.file)).shape[:2]
            hits += abs(b[0] + b[2] / 2 - w / 2) < 25 and abs(b[1] + b[3] / 2 - h / 2) < 25
    return hits / len(photos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw-sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    params = load_config(args.params)
    cfg = params.extract
    h = cfg.haar
    print(f"ours: {h.cascade} scaleFactor {h.scale_factor} minNeighbors {h.min_neighbors} "
          f"minSize {h.min_size} detect_max_side {cfg.detect_max_side} "
          f"min_face_size {cfg.min_face_size}; cpus {os.cpu_count()}, "
          f"load {os.getloadavg()[0]:.1f}")
    header = (f"{'data set':22s} {'method':16s} {'img/s':>7s} {'vs orig':>8s} {'vs 1 job':>9s} "
              f"{'detected':>9s} {'centred':>8s}")
    print(header)
    print("-" * len(header))
    for name, photos in photo_sets(args.lfw_sample, args.seed).items():
        variants = [("original", original, ()),
                    ("ours n_jobs=1", ours, (cfg.model_copy(update={"n_jobs": 1}),
                                             params.download.max_image_pixels)),
                    ("ours n_jobs=2", ours, (cfg.model_copy(update={"n_jobs": 2}),
                                             params.download.max_image_pixels))]
        speeds: dict[str, float] = {}
        for label, fn, extra in variants:
            speed, boxes = timed(fn, photos, args.repeat, *extra)
            speeds[label] = speed
            rate = sum(b is not None for b in boxes) / len(photos)
            cent = f"{centred(boxes, photos):8.3f}" if name.startswith("lfw") else f"{'-':>8s}"
            vs_one = (f"{speed / speeds['ours n_jobs=1']:8.2f}x" if label == "ours n_jobs=2"
                      else f"{'':9s}")
            print(f"{name:22s} {label:16s} {speed:7.1f} {speed / speeds['original']:7.2f}x "
                  f"{vs_one} {rate:9.3f} {cent}", flush=True)


if __name__ == "__main__":
    main()
