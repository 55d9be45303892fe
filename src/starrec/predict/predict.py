"""`starrec predict`: name the faces in photos, folders, videos or a camera.

Writes, under the output dir: `annotated/` (photos and videos with boxes, names and
confidences), `predictions.csv` (one row per face; a photo without a face or a file that
cannot be read gets one row saying so) and `predictions.json` (the same, per file).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from starrec.config import PredictParams
from starrec.faces.image import UnreadableImage, decode_rgb
from starrec.io import atomic_path, write_json_atomic, write_text_atomic
from starrec.predict.classifier import UNKNOWN
from starrec.predict.recognize import FacePrediction, Predictor

log = logging.getLogger(__name__)
IMAGE_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm"}
VIDEO_EXT = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
CAMERA_FRAMES = 300  # a camera has no end: frames read when max_frames is 0


class PredictError(RuntimeError):
    """Prediction cannot start (no inputs, camera not available)."""


@dataclass
class FileResult:
    file: str
    kind: str  # image | video | camera
    status: str = "ok"  # ok | no_face | error
    reason: str = ""
    annotated: str = ""
    frames: list[tuple[int, list[FacePrediction]]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "kind": self.kind, "status": self.status,
                "reason": self.reason, "annotated": self.annotated,
                "faces": [{"frame": fr, **f.to_json()} for fr, faces in self.frames
                          for f in faces]}


def collect_inputs(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """(file, name for outputs) for each photo/video; folders are searched recursively.
    A path that does not exist is an error; other files in folders are skipped."""
    out: list[tuple[Path, str]] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in IMAGE_EXT | VIDEO_EXT:
                    out.append((f, str(Path(p.name) / f.relative_to(p))))
        elif p.is_file():
            out.append((p, p.name))
        else:
            raise PredictError(f"{p}: no such file or folder")
    if not out:
        raise PredictError("no photos or videos found in " + ", ".join(map(str, paths)))
    return out


def predict_paths(predictor: Predictor, inputs: list[tuple[Path, str]], out_dir: Path,
                  params: PredictParams) -> list[FileResult]:
    """Predict every photo and video of `inputs` (from `collect_inputs`, checked before the
    model is loaded) and write the outputs to `out_dir`."""
    results = []
    for path, name in tqdm(inputs, desc="predict", unit="file"):
        if path.suffix.lower() in VIDEO_EXT:
            res = _video(predictor, cv2.VideoCapture(str(path)), str(path), "video",
                         out_dir / "annotated" / Path(name).with_suffix(".mp4"), params)
        else:
            res = _photo(predictor, path, out_dir / "annotated" / name, params.max_image_pixels)
        results.append(res)
    write_outputs(results, out_dir, params.top_k)
    return results


def predict_camera(predictor: Predictor, index: int, out_dir: Path,
                   params: PredictParams) -> list[FileResult]:
    """Read camera `index` for `max_frames` frames (default 300) into an annotated video."""
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise PredictError(f"camera {index}: cannot be opened (no such device?)")
    res = _video(predictor, cap, f"camera:{index}", "camera",
                 out_dir / "annotated" / f"camera{index}.mp4", params)
    write_outputs([res], out_dir, params.top_k)
    return [res]


def _photo(predictor: Predictor, path: Path, annotated: Path, max_pixels: int) -> FileResult:
    res = FileResult(str(path), "image")
    try:
        rgb = decode_rgb(path.read_bytes(), max_pixels)
    except (OSError, UnreadableImage) as exc:
        res.status, res.reason = "error", f"{path}: {exc}"
        log.warning("%s", res.reason)
        return res
    faces = predictor(rgb)
    res.frames = [(0, faces)]
    if not faces:
        res.status, res.reason = "no_face", "no face found"
    annotated = annotated.with_suffix(annotated.suffix if annotated.suffix.lower() in
                                      {".jpg", ".jpeg", ".png"} else ".png")
    with atomic_path(annotated) as tmp:
        tmp.write_bytes(cv2.imencode(annotated.suffix, draw(rgb, faces)[..., ::-1])[1].tobytes())
    res.annotated = str(annotated)
    return res


def _video(predictor: Predictor, cap: cv2.VideoCapture, source: str, kind: str,
           annotated: Path, params: PredictParams) -> FileResult:
    """Classify every `video_every`-th frame; boxes stay drawn on the frames in between."""
    res = FileResult(source, kind)
    if not cap.isOpened():
        res.status, res.reason = "error", f"{source}: cannot open video"
        log.warning("%s", res.reason)
        return res
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    limit = params.max_frames or (CAMERA_FRAMES if kind == "camera" else None)
    annotated.parent.mkdir(parents=True, exist_ok=True)
    tmp = annotated.with_name(f".{annotated.stem}.partial.mp4")  # the writer needs .mp4
    writer = None
    faces: list[FacePrediction] = []
    try:
        for i, frame in _frames(cap, limit):
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            if i % params.video_every == 0:
                faces = predictor(frame[..., ::-1].copy())
                res.frames.append((i, faces))
            writer.write(draw(frame[..., ::-1], faces)[..., ::-1].copy())
        if writer is None:
            res.status, res.reason = "error", f"{source}: no frames could be read"
            log.warning("%s", res.reason)
            return res
        writer.release()
        tmp.replace(annotated)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
        tmp.unlink(missing_ok=True)
    res.annotated = str(annotated)
    if not any(f for _, f in res.frames):
        res.status, res.reason = "no_face", "no face found in any classified frame"
    return res


def _frames(cap: cv2.VideoCapture, limit: int | None) -> Iterator[tuple[int, np.ndarray]]:
    i = 0
    while limit is None or i < limit:
        ok, frame = cap.read()
        if not ok:
            return
        yield i, frame
        i += 1


def draw(rgb: np.ndarray, faces: list[FacePrediction]) -> np.ndarray:
    """A copy of the photo with a box and its caption per face (unknown in red)."""
    img = np.ascontiguousarray(rgb).copy()
    thick = max(1, round(max(img.shape[:2]) / 300))
    for f in faces:
        x, y, w, h = f.box
        color = (220, 40, 40) if f.label == UNKNOWN else (40, 200, 60)
        cv2.rectangle(img, (x, y), (x + w, y + h), color, thick)
        text = f.caption
        scale = 0.4 * thick
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y - 4 if y - th - base - 4 >= 0 else y + h + th + 4
        cv2.rectangle(img, (x, ty - th - base), (x + tw, ty + base), color, -1)
        cv2.putText(img, text, (x, ty), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                    cv2.LINE_AA)
    return img


def rows(results: list[FileResult], top_k: int) -> pd.DataFrame:
    """predictions.csv: one row per face; one row per file without a face or in error."""
    out = []
    for r in results:
        base = {"file": r.file, "kind": r.kind, "annotated": r.annotated}
        faces = [(fr, i, f) for fr, fs in r.frames for i, f in enumerate(fs)]
        if not faces:
            out.append({**base, "frame": "", "face": "", "status": r.status, "reason": r.reason})
        for fr, i, f in faces:
            row = {**base, "frame": fr, "face": i, "status": "ok", "reason": "",
                   "box_x": f.box[0], "box_y": f.box[1], "box_w": f.box[2], "box_h": f.box[3],
                   "label": f.label, "caption": f.caption,
                   "confidence": round(f.confidence, 4), "score": round(f.score, 4),
                   "threshold": round(f.threshold, 4)}
            for k, (name, p) in enumerate(f.top, start=1):
                row[f"top{k}"], row[f"top{k}_confidence"] = name, round(p, 4)
            out.append(row)
    cols = ["file", "kind", "frame", "face", "status", "reason", "box_x", "box_y", "box_w",
            "box_h", "label", "caption", "confidence", "score", "threshold"]
    cols += [c for k in range(1, top_k + 1) for c in (f"top{k}", f"top{k}_confidence")]
    return pd.DataFrame(out, columns=cols + ["annotated"])


def write_outputs(results: list[FileResult], out_dir: Path, top_k: int) -> None:
    write_text_atomic(out_dir / "predictions.csv", rows(results, top_k).to_csv(index=False))
    write_json_atomic(out_dir / "predictions.json", [r.to_json() for r in results])
    counts = pd.Series([r.status for r in results]).value_counts().to_dict()
    n_faces = sum(len(f) for r in results for _, f in r.frames)
    log.info("%d files (%s), %d faces → %s", len(results),
             ", ".join(f"{k}: {v}" for k, v in counts.items()), n_faces, out_dir)
    for r in results:
        if r.status == "no_face":
            log.info("%s: no face found", r.file)
