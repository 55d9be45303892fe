"""`starrec scan`: every face of photos and folders recognised and stored in the library
index, one transaction per photo.

A re-scan reads nothing it has indexed: a file whose path, size and mtime match its row is
skipped on a `stat` alone; a changed or new file is hashed, and content already indexed
under its path (a touched file, or one a teammate's concurrent scan indexed first) keeps its
faces and their names; under another path it is recorded as a duplicate (or, when that
path is gone, as moved) instead of being indexed twice. Faces a previous model labelled are
re-labelled from their stored embeddings before the scan, without detecting again.

Videos (with `video` params; the CLI always passes them) go through the cast list's
tracker (starrec.video): one face row per track — the track's quality-weighted mean
embedding, its best face's frame and box — so a person on screen for a minute is one face
to cluster and name, not 1500. A video's row is keyed by path and sha256 like a photo's and
written with its faces in one transaction; an unreadable or truncated video is an error row.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from tqdm import tqdm

from starrec.config import LibraryParams, VideoParams
from starrec.enroll.enroll import PHOTO_SUFFIXES
from starrec.faces.image import UnreadableImage, decode_rgb
from starrec.library.index import FaceTable, Index, faces, landmarks_json, photos
from starrec.library.labels import Stars, final_labels, named_stars, relabel
from starrec.library.recognizer import Recognizer
from starrec.predict.predict import VIDEO_EXT
from starrec.video.run import VideoError, cast_video

log = logging.getLogger(__name__)


@dataclass
class ScanSummary:
    files: int = 0
    skipped: int = 0  # unchanged since indexed
    indexed: int = 0  # photos read this time (with or without faces)
    faces: int = 0
    errors: list[str] = field(default_factory=list)  # "path: reason", also recorded in the index
    duplicates: int = 0
    moved: int = 0
    videos: int = 0  # of the files, videos (left out without video params)
    relabelled: int = 0  # faces a previous model labelled, re-labelled from their embeddings
    seconds: float = 0.0


def library_files(paths: list[str | Path]) -> tuple[list[str], list[str]]:
    """(absolute paths of the photos, of the videos) to scan; a file named explicitly is
    scanned whatever its suffix (a non-image becomes an error row)."""
    out, videos = [], []
    for p in map(Path, paths):
        found = ([os.path.join(root, name) for root, _dirs, files in os.walk(p)
                  for name in sorted(files)] if p.is_dir() else [str(p)])
        for name in found:
            suffix = os.path.splitext(name)[1].lower()
            if suffix in VIDEO_EXT:
                videos.append(os.path.abspath(name))
            elif suffix in PHOTO_SUFFIXES or not p.is_dir():
                out.append(os.path.abspath(name))
    return sorted(set(out)), sorted(set(videos))


def scan(paths: list[str | Path], rec: Recognizer, index: Index, params: LibraryParams,
         max_pixels: int, progress: bool = True, video: VideoParams | None = None
         ) -> ScanSummary:
    """Index every face of the photos (and, with `video`, the videos) in `paths` with
    `rec`'s model."""
    start = time.perf_counter()
    index.bind(rec.embedder)
    photo_files, videos = library_files(paths)
    scan_videos = set(videos) if video is not None else set()  # looked up once per file
    files = sorted([*photo_files, *scan_videos])
    summary = ScanSummary(files=len(files), videos=len(videos))
    summary.relabelled = refresh_model_answers(index, rec)
    if summary.relabelled:
        relabel(index, params)
    named, _ = index.face_names()
    stars = (named_stars(index.face_table(faces.c.id.in_(list(named))), named, params)
             if named else None)
    known = index.photo_states()
    for path in tqdm(files, desc="scan", unit="photo", disable=not progress):
        try:
            st = os.stat(path)
        except OSError as exc:
            _record_error(index, path, None, f"vanished before it was read ({exc.strerror})",
                          summary)
            continue
        if known.get(path) == (st.st_size, st.st_mtime_ns):
            summary.skipped += 1
            continue
        if path in scan_videos:
            _scan_video(path, st, rec, index, stars, video, summary)
        else:
            _scan_photo(path, st, rec, index, stars, max_pixels, summary)
    if videos and video is None:
        log.info("scan: %d videos left out (no video params)", len(videos))
    summary.seconds = time.perf_counter() - start
    return summary


def refresh_model_answers(index: Index, rec: Recognizer) -> int:
    """The model's label and score for faces another model labelled, from their stored
    embeddings; returns how many."""
    stale = index.face_table(faces.c.model_id != rec.model_id)
    if not len(stale):
        return 0
    labels, scores = rec.answer(stale.embeddings)
    index.update_labels({"id": int(i), "model_label": lab, "model_score": float(s),
                         "model_threshold": rec.predictor.rule.threshold,
                         "model_id": rec.model_id, "model_uri": rec.uri}
                        for i, lab, s in zip(stale.ids, labels, scores, strict=True))
    log.info("re-labelled %d faces with %s from their stored embeddings", len(stale), rec.uri)
    return len(stale)


def _scan_photo(path: str, st: os.stat_result, rec: Recognizer, index: Index,
                stars: Stars | None, max_pixels: int, summary: ScanSummary) -> None:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        _unreadable(index, path, st, exc, summary)
        return
    sha = hashlib.sha256(data).hexdigest()
    if _seen(index, path, st, sha, summary):
        return
    try:
        rgb = decode_rgb(data, max_pixels)
    except UnreadableImage as exc:
        _record_error(index, path, st, str(exc), summary, sha)
        return
    crops = rec.faces(rgb)
    emb = (np.asarray(rec.embed_faces(crops), np.float32) if crops
           else np.zeros((0, 1), np.float32))
    _index_rows(index, path, st, sha, rec, stars, summary, emb, [
        {"frame": 0, "box": c.box, "landmarks": landmarks_json(c.landmarks),
         "face_size": int(c.face_size), "blur": c.blur_var, "det_score": float(c.score)}
        for c in crops])


def _scan_video(path: str, st: os.stat_result, rec: Recognizer, index: Index,
                stars: Stars | None, video: VideoParams, summary: ScanSummary) -> None:
    """A video's tracks as faces: one row per track (see the module docstring)."""
    try:
        with open(path, "rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError as exc:
        _unreadable(index, path, st, exc, summary)
        return
    if _seen(index, path, st, sha, summary):
        return
    try:
        tracks = [t for t in cast_video(rec.predictor, Path(path), video).tracks
                  if t.embedding is not None and t.best is not None]
    except VideoError as exc:
        _record_error(index, path, st, str(exc), summary, sha)
        return
    emb = (np.stack([t.embedding for t in tracks]).astype(np.float32) if tracks
           else np.zeros((0, 1), np.float32))
    _index_rows(index, path, st, sha, rec, stars, summary, emb, [
        {"frame": t.best.frame, "box": t.best.box, "landmarks": landmarks_json(None),
         "face_size": int(max(t.best.box[2], t.best.box[3])), "blur": t.best.blur_var,
         "det_score": t.best.det_score} for t in tracks])


def _unreadable(index: Index, path: str, st: os.stat_result, exc: OSError,
                summary: ScanSummary) -> None:
    reason = ("vanished during the scan" if isinstance(exc, FileNotFoundError)
              else f"cannot read file ({exc.strerror or exc})")
    _record_error(index, path, st, reason, summary)


def _seen(index: Index, path: str, st: os.stat_result, sha: str, summary: ScanSummary) -> bool:
    """Whether content `sha` is indexed already: under this path (touched, or a teammate's
    scan was first: its row is refreshed) or another (a duplicate, or moved)."""
    with index.transaction() as conn:
        same = index.photo_with_sha(conn, sha)
    if same is not None and same[1] == path:
        with index.transaction() as conn:
            conn.execute(photos.update().where(photos.c.id == same[0]).values(
                size=st.st_size, mtime_ns=st.st_mtime_ns))
        summary.skipped += 1
        return True
    if same is not None:
        _same_content(index, path, st, sha, same, summary)
        return True
    return False


def _index_rows(index: Index, path: str, st: os.stat_result, sha: str, rec: Recognizer,
                stars: Stars | None, summary: ScanSummary, emb: np.ndarray,
                found: list[dict]) -> None:
    """The faces `found` in one file (their embeddings `emb`), named by the model and the
    library's named people, written with the file's row in one transaction."""
    labels, scores = rec.answer(emb) if found else ([], [])
    rows = [{"frame": f["frame"], "box_x": int(f["box"][0]), "box_y": int(f["box"][1]),
             "box_w": int(f["box"][2]), "box_h": int(f["box"][3]),
             "landmarks": f["landmarks"], "face_size": f["face_size"], "blur": f["blur"],
             "det_score": f["det_score"], "embedding": e.tobytes(), "model_label": lab,
             "model_score": float(s), "model_threshold": rec.predictor.rule.threshold,
             "model_id": rec.model_id, "model_uri": rec.uri, "id": -k}
            for k, (f, e, lab, s) in enumerate(zip(found, emb, labels, scores, strict=True))]
    if rows:
        for row, final in zip(rows, final_labels(FaceTable(rows, emb), stars, {}, {}),
                              strict=True):
            row.update(final)
            del row["id"]
    try:
        index_faces(index, path, st, sha, "ok" if rows else "no_face", None, rows)
    except sa.exc.IntegrityError:  # PostgreSQL: a teammate's scan committed this path first
        log.info("scan: %s: indexed meanwhile by another scan", path)
        summary.skipped += 1
        return
    summary.indexed += 1
    summary.faces += len(rows)


def index_faces(index: Index, path: str, st: os.stat_result | None, sha: str | None,
                status: str, reason: str | None, rows: list[dict]) -> None:
    """One photo (or video) and its faces, replacing any earlier row of that path, in one
    transaction."""
    with index.transaction() as conn:
        conn.execute(photos.delete().where(photos.c.path == path))
        photo_id = conn.execute(photos.insert().values(
            path=path, size=st.st_size if st else -1, mtime_ns=st.st_mtime_ns if st else -1,
            sha256=sha, status=status, reason=reason, scanned_at=time.time()
        )).inserted_primary_key[0]
        if rows:
            conn.execute(faces.insert(), [{**r, "photo_id": photo_id} for r in rows])


def _same_content(index: Index, path: str, st: os.stat_result, sha: str,
                  same: tuple[int, str], summary: ScanSummary) -> None:
    """A photo already indexed under another path: moved there, or a second copy."""
    if os.path.exists(same[1]):
        index_faces(index, path, st, sha, "duplicate", f"same photo as {same[1]}", [])
        summary.duplicates += 1
        return
    with index.transaction() as conn:
        conn.execute(photos.delete().where(photos.c.path == path))
        conn.execute(photos.update().where(photos.c.id == same[0]).values(
            path=path, size=st.st_size, mtime_ns=st.st_mtime_ns, scanned_at=time.time()))
    summary.moved += 1


def _record_error(index: Index, path: str, st: os.stat_result | None, reason: str,
                  summary: ScanSummary, sha: str | None = None) -> None:
    log.warning("scan: %s: %s", path, reason)
    index_faces(index, path, st, sha, "error", reason, [])
    summary.errors.append(f"{path}: {reason}")

