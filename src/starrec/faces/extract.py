"""Faces of many photos: the raw manifest's ok photos → face PNGs + faces-manifest rows.

A photo's faces (PNGs and row values) depend only on its bytes and the settings
(`extract_settings`), so they are kept in the result cache under that key: a photo seen
before costs a read and a hash. Photos are processed in parallel worker processes (one
detector each, OpenCV single-threaded so the processes don't fight over cores), or by Beam
workers (`engine: beam`) running the same per-photo function; results come back in input
order, so the manifest is the same whatever `n_jobs` or the engine is. A photo whose processing raises is an `error` row. A
pool worker dies with the stage (Linux: the kernel kills it when its parent goes), and a
worker that dies stops the stage with one line, not a traceback.
"""

from __future__ import annotations

import base64
import csv
import ctypes
import hashlib
import io
import logging
import multiprocessing
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import imagehash
import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from starrec.artifacts import MANIFEST
from starrec.config import EngineParams, ExtractParams, FaceModelsParams, HttpParams
from starrec.engine import Failed, map_elements
from starrec.errors import StageError
from starrec.faces import align, detect, detectors, image
from starrec.faces.model_files import ModelFileError, artifact, model_file, resolve_model_file
from starrec.faces.detect import FaceCrop, find_faces
from starrec.faces.detectors import Detector, make_detector
from starrec.faces.image import UnreadableImage, decode_rgb
from starrec.faces.result_cache import ResultCache, code_sha256, library_versions, result_key
from starrec.io import write_text_atomic

log = logging.getLogger(__name__)

COLUMNS = ["face_id", "class", "path", "source_path", "source_sha256", "status", "reason",
           "detector", "score", "box_x", "box_y", "box_w", "box_h", "face_size", "height",
           "width", "channels", "blur_var", "sha256", "phash"]
# the detector's 5 landmarks in photo pixels (empty for Haar): image-left eye, image-right
# eye, nose tip, image-left and image-right mouth corner
LANDMARKS = [f"lm{i}_{a}" for i in range(5) for a in ("x", "y")]
COLUMNS += LANDMARKS


@dataclass(frozen=True)
class Photo:
    cls: str
    file: Path  # where to read it
    source_path: str  # relative to the raw dir
    stem: str  # unique within its class: face ids are `<cls>/<stem>_f<k>`


def list_photos(raw_dir: Path) -> list[Photo]:
    """The raw manifest's `ok` rows, sorted by path, with a face-id stem unique per class."""
    manifest = raw_dir / MANIFEST
    try:
        raw = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise StageError(f"{manifest}: cannot read raw manifest ({exc})") from exc
    missing = {"class", "path", "status"} - set(raw.columns)
    if missing:
        raise StageError(f"{manifest}: missing columns {sorted(missing)}")
    ok = raw[raw["status"] == "ok"].sort_values(["class", "path"])
    if len(ok) < len(raw):
        log.info("%s: %d of %d items are not ok photos (see its status/reason); skipped",
                 manifest, len(raw) - len(ok), len(raw))
    return unique_stems([(c, raw_dir / p, p) for c, p in zip(ok["class"], ok["path"], strict=True)])


def unique_stems(items: list[tuple[str, Path, str]]) -> list[Photo]:
    """Photo records; a stem used twice in a class (a.jpg, a.png) gets its suffix appended."""
    seen = Counter((cls, Path(rel).stem) for cls, _, rel in items)
    return [Photo(cls, file, rel, Path(rel).stem if seen[cls, Path(rel).stem] == 1
                  else Path(rel).name.replace(".", "_"))
            for cls, file, rel in items]


def process_photos(photos: list[Photo], cfg: ExtractParams, out_dir: Path, max_pixels: int,
                   models: FaceModelsParams | None = None,
                   http: HttpParams | None = None,
                   engine: EngineParams | None = None,
                   cache: ResultCache | None = None) -> list[dict[str, Any]]:
    """Manifest rows for `photos` (PNGs written under `out_dir/<class>/`), in input order;
    a photo of more than `max_pixels` pixels is refused before it is decoded. `models`
    (`faces.models`; `http` to download a missing file) locate YuNet's file. `engine`
    beam: on Beam workers, which must see `out_dir` and the `cache` root (a shared
    filesystem off this host). `cache`: photos seen before with these settings are not
    decoded or detected again."""
    models = resolve_detector_file(cfg, models, http)
    detector = checked_detector(cfg, models)
    for cls in {p.cls for p in photos}:
        (out_dir / cls).mkdir(parents=True, exist_ok=True)
    reuse = (cache or ResultCache(None, "extract"), extract_settings(cfg, max_pixels))
    jobs = [(p, out_dir) for p in photos]
    outcomes = _outcomes(jobs, cfg, models, max_pixels, reuse, detector, engine, out_dir)
    if cache is not None:
        log.info("extract_faces: %d of %d photos reused from %s", sum(r for r, _ in outcomes),
                 len(jobs), cache.root)
    return [row for _, rows in outcomes for row in rows]


def _outcomes(jobs: list[tuple[Photo, Path]], cfg: ExtractParams,
              models: FaceModelsParams | None, max_pixels: int, reuse: Reuse,
              detector: Detector, engine: EngineParams | None, out_dir: Path
              ) -> list[tuple[bool, list[dict[str, Any]]]]:
    """(reused from the cache, rows) of each job, in input order, on the chosen engine."""
    if engine is not None and engine.name == "beam":
        outcomes = map_elements(jobs, _work, engine, out_dir, desc="extract_faces",
                                setup=partial(_init_worker, cfg, models, max_pixels, reuse))
        return [(False, [_failed(photo, _base(photo, cfg), "", "error", o.reason)])
                if isinstance(o, Failed) else o
                for (photo, _), o in zip(jobs, outcomes, strict=True)]
    bar = dict(total=len(jobs), desc="extract_faces", unit="photo")
    if cfg.n_jobs <= 1:
        _init_worker(cfg, models, max_pixels, reuse, detector)
        results: Iterator[tuple[bool, list[dict[str, Any]]]] = map(_work, jobs)
        return list(tqdm(results, **bar))
    # spawn, not fork: a forked child of a process with threads running (TensorFlow's, which
    # MTCNN or a caller may have loaded) can hang on a lock held by a thread it did not inherit
    ctx = multiprocessing.get_context("spawn")
    chunk = max(1, min(16, len(jobs) // (cfg.n_jobs * 8)))
    done: list[tuple[bool, list[dict[str, Any]]]] = []
    try:
        with ProcessPoolExecutor(cfg.n_jobs, mp_context=ctx, initializer=_init_pool_worker,
                                 initargs=(os.getpid(), cfg, models, max_pixels, reuse)) as pool:
            for outcome in tqdm(pool.map(_work, jobs, chunksize=chunk), **bar):
                done.append(outcome)
    except BrokenProcessPool:
        raise StageError(f"extract_faces: a worker process died abruptly (killed, or out of "
                         f"memory) after {len(done)} of {len(jobs)} photos; nothing was "
                         "written") from None
    return done


PR_SET_PDEATHSIG = 1  # linux/prctl.h
Reuse = tuple[ResultCache, str]  # the cache and the settings part of its keys
_worker: tuple[ExtractParams, Detector, int, Reuse] | None = None


def extract_settings(cfg: ExtractParams, max_pixels: int) -> str:
    """Everything besides a photo's bytes that changes its faces: the params that shape
    detection and crops, the detector's model file, the code and the libraries that decode,
    detect, align and encode."""
    shaping = cfg.model_dump(mode="json", exclude={"n_jobs", "preview_per_class"})
    files = [artifact("yunet").sha256] if cfg.detector == "yunet" else []
    libraries = library_versions("opencv-python-headless", "pillow", "numpy", "imagehash",
                                 *(("mtcnn", "tensorflow-cpu", "tensorflow")
                                   if cfg.detector == "mtcnn" else ()))
    code = code_sha256(align, detect, detectors, image, sys.modules[__name__])
    return result_key("extract-settings", shaping, max_pixels, files, libraries, code)


def _init_pool_worker(parent: int, cfg: ExtractParams, models: FaceModelsParams | None,
                      max_pixels: int, reuse: Reuse) -> None:
    """A pool worker: killed by the kernel when the stage dies (Linux), then set up."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the stage died before prctl took effect
        os._exit(1)
    _init_worker(cfg, models, max_pixels, reuse)


def resolve_detector_file(cfg: ExtractParams, models: FaceModelsParams | None,
                          http: HttpParams | None) -> FaceModelsParams | None:
    """`models` with YuNet's file found and verified once, in this process, so a missing or
    wrong file is one error here rather than one per worker; workers load that path."""
    if cfg.detector != "yunet":
        return models
    try:
        path = (resolve_model_file("yunet") if models is None
                else model_file("yunet", models, http))
    except ModelFileError as exc:
        raise StageError(str(exc)) from None
    return FaceModelsParams(cache_dir=models.cache_dir if models else Path(),
                            paths={**(models.paths if models else {}), "yunet": path})


def checked_detector(cfg: ExtractParams, models: FaceModelsParams | None) -> Detector:
    """The detector built once in this process: a bad cascade name or model file is one
    error naming the knob here, not a traceback lost inside every worker."""
    try:
        return make_detector(cfg, models)
    except (ValueError, OSError, cv2.error) as exc:
        raise StageError(f"extract.detector {cfg.detector}: cannot be built ({exc})") from None


def _init_worker(cfg: ExtractParams, models: FaceModelsParams | None, max_pixels: int,
                 reuse: Reuse, detector: Detector | None = None) -> None:
    global _worker
    cv2.setNumThreads(1)
    _worker = (cfg, detector or make_detector(cfg, models), max_pixels, reuse)


def _work(job: tuple[Photo, Path]) -> tuple[bool, list[dict[str, Any]]]:
    assert _worker is not None, "_init_worker not called"
    cfg, detector, max_pixels, reuse = _worker
    photo, out_dir = job
    try:
        return photo_rows(photo, cfg, detector, out_dir, max_pixels, reuse)
    except Exception as exc:  # noqa: BLE001 - one bad photo is a row, not a crashed stage
        return False, [_failed(photo, _base(photo, cfg), "", "error",
                               f"{type(exc).__name__}: {exc}")]


def _base(photo: Photo, cfg: ExtractParams) -> dict[str, Any]:
    return {"class": photo.cls, "source_path": photo.source_path, "detector": cfg.detector}


def photo_rows(photo: Photo, cfg: ExtractParams, detector: Detector, out_dir: Path,
               max_pixels: int, reuse: Reuse | None = None) -> tuple[bool, list[dict[str, Any]]]:
    """One row per kept face (PNG written), or one row saying why the photo gave none; the
    photo's result comes from the cache (`reuse`; first: whether it did) when it was seen
    with these settings."""
    base = _base(photo, cfg)
    try:
        data = photo.file.read_bytes()
    except OSError as exc:
        return False, [_failed(photo, base, "", "unreadable",
                               f"cannot read file ({exc.strerror or exc})")]
    sha = hashlib.sha256(data).hexdigest()
    cache, settings = reuse or (ResultCache(None, "extract"), "")
    key = result_key("extract", sha, settings)
    result = cache.get_json(key)
    reused = result is not None
    if result is None:
        result = faces_of_photo(data, cfg, detector, max_pixels)
        if result.get("status") != "error":  # a detector failure may not happen again
            cache.put_json(key, result)
    if "faces" not in result:
        return reused, [_failed(photo, base, sha, result["status"], result["reason"])]
    return reused, [_face_row(photo, base, sha, k, fields, base64.b64decode(png), out_dir)
                    for k, (fields, png) in enumerate(result["faces"])]


def faces_of_photo(data: bytes, cfg: ExtractParams, detector: Detector, max_pixels: int
                   ) -> dict[str, Any]:
    """A photo's faces as plain values (JSON: what the cache keeps): `{"faces": [[row
    values, base64 PNG], ...]}`, or `{"status", "reason"}` when it gave none."""
    try:
        rgb = decode_rgb(data, max_pixels)
    except UnreadableImage as exc:
        return {"status": "unreadable", "reason": str(exc)}
    try:
        result = find_faces(rgb, cfg, detector)
    except cv2.error as exc:
        return {"status": "error", "reason": f"detector failed ({exc.msg or exc})"}
    if not result.crops:
        if result.found:
            return {"status": "too_small",
                    "reason": f"{result.found} face(s) detected, largest {result.largest}px "
                              f"< min_face_size {cfg.min_face_size}px"}
        return {"status": "no_face",
                "reason": f"no face of at least min_face_size {cfg.min_face_size}px detected"}
    return {"faces": [face_values(face) for face in result.crops]}


def face_values(face: FaceCrop) -> list[Any]:
    """[the manifest values of one face, its base64 PNG], as plain JSON values that write the
    same CSV text as the numbers they came from."""
    img = Image.fromarray(face.image)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    png = buf.getvalue()
    x, y, w, h = face.box
    points = ({} if face.landmarks is None else
              dict(zip(LANDMARKS, (round(v, 2) for xy in face.landmarks for v in xy), strict=True)))
    fields = {**points, "score": round(face.score, 4), "box_x": x, "box_y": y, "box_w": w,
              "box_h": h, "face_size": face.face_size, "height": face.image.shape[0],
              "width": face.image.shape[1],
              "channels": 1 if face.image.ndim == 2 else face.image.shape[2],
              "blur_var": round(face.blur_var, 3), "sha256": hashlib.sha256(png).hexdigest(),
              "phash": str(imagehash.phash(img))}
    return [{k: _plain(v) for k, v in fields.items()}, base64.b64encode(png).decode()]


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number the CSV writer prints the same way (str of a
    numpy float is its shortest round-trip text, which the Python float reprs back)."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(str(value))
    return value


def _failed(photo: Photo, base: dict[str, Any], sha: str, status: str, reason: str) -> dict[str, Any]:
    if status in ("unreadable", "error"):
        log.warning("%s: %s (%s)", photo.file, status, reason)
    return {**base, "face_id": f"{photo.cls}/{photo.stem}", "path": "", "source_sha256": sha,
            "status": status, "reason": reason}


def _face_row(photo: Photo, base: dict[str, Any], sha: str, k: int, fields: dict[str, Any],
              png: bytes, out_dir: Path) -> dict[str, Any]:
    face_id = f"{photo.cls}/{photo.stem}_f{k}"
    (out_dir / f"{face_id}.png").write_bytes(png)  # the whole dir is swapped in atomically
    return {**base, **fields, "face_id": face_id, "path": f"{face_id}.png",
            "source_sha256": sha, "status": "ok", "reason": ""}


def write_manifest(rows: list[dict[str, Any]], path: Path) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def report(df: pd.DataFrame, classes: list[str]) -> None:
    """Log counts per status, and warn about classes left without a face."""
    log.info("extract_faces: %s", dict(Counter(df["status"])))
    faces = Counter(df.loc[df["status"] == "ok", "class"])
    for cls in classes:
        if not faces[cls]:
            log.warning("class %s: no face extracted from any of its photos", cls)
    log.info("faces per class: %s", {c: faces[c] for c in classes})

