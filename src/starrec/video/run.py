"""`starrec cast VIDEO... --out DIR`: per video, DIR/<video name>/ holds cast.csv, tracks.csv
and timeline.png, written together or not at all.

A video that is missing, cannot be opened or ends before the frames its container declares
(more than 2 frames or 1 % short: some containers only estimate their count) is one error
line naming it, and gets no output folder.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from starrec.config import VideoParams
from starrec.io import atomic_dir
from starrec.predict.recognize import Predictor
from starrec.video.cast import cast_table, tracks_table
from starrec.video.identity import NamedTrack, name_tracks
from starrec.video.observe import Observer
from starrec.video.timeline import draw_timeline
from starrec.video.tracks import Tracker

log = logging.getLogger(__name__)
CAST_CSV, TRACKS_CSV, TIMELINE_PNG = "cast.csv", "tracks.csv", "timeline.png"


class VideoError(RuntimeError):
    """A video cannot be read (the message names it and says why)."""


@dataclass(frozen=True)
class VideoCast:
    video: Path
    fps: float
    frames: int
    tracks: list[NamedTrack]
    cuts: list[int]  # first frames of the shots after the first


def frames_of(cap: cv2.VideoCapture) -> Iterator[np.ndarray]:
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        yield frame


def cast_video(predictor: Predictor, video: Path, params: VideoParams) -> VideoCast:
    """Track, name and group every face of `video`."""
    if not video.is_file():
        raise VideoError(f"{video}: no such file")
    cap = cv2.VideoCapture(str(video))
    try:
        if not cap.isOpened():
            raise VideoError(f"{video}: cannot open as a video (not a video, or damaged)")
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        declared = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        tracker = Tracker(params, Observer(predictor, params))
        n = 0
        for n, frame in enumerate(tqdm(frames_of(cap), total=declared or None, desc=video.name,
                                       unit="frame", leave=False), start=1):
            tracker.step(n - 1, frame)
    finally:
        cap.release()
    if n == 0:
        raise VideoError(f"{video}: no frame could be read (damaged or empty)")
    if n < declared - max(2, declared // 100):  # some containers estimate their count
        raise VideoError(f"{video}: truncated or damaged: read {n} of {declared} frames")
    named = name_tracks(tracker.finish(), params.min_detections, params.unknown_distance)
    return VideoCast(video, fps, n, named, tracker.cuts)


def write_cast(cast: VideoCast, out: Path) -> None:
    """cast.csv, tracks.csv and timeline.png into the folder `out`, swapped in whole."""
    with atomic_dir(out) as tmp:
        cast_table(cast.tracks, cast.fps).to_csv(tmp / CAST_CSV, index=False)
        tracks_table(cast.tracks, cast.fps).to_csv(tmp / TRACKS_CSV, index=False)
        draw_timeline(cast.tracks, cast.fps, cast.frames, cast.video.name, tmp / TIMELINE_PNG)


def output_dirs(videos: list[Path], out_dir: Path) -> list[Path]:
    """DIR/<file name without suffix>; a name met again gets -2, -3, ... (in command order)."""
    seen: Counter[str] = Counter()
    out = []
    for v in videos:
        seen[v.stem] += 1
        out.append(out_dir / (v.stem if seen[v.stem] == 1 else f"{v.stem}-{seen[v.stem]}"))
    return out


def cast_videos(predictor: Predictor, videos: list[Path], out_dir: Path,
                params: VideoParams) -> list[VideoCast]:
    """Cast every readable video of `videos` into `out_dir`; the unreadable ones are logged,
    one line each, and skipped."""
    done = []
    for video, out in zip(videos, output_dirs(videos, out_dir), strict=True):
        try:
            cast = cast_video(predictor, video, params)
        except VideoError as exc:
            log.error("%s", exc)
            continue
        write_cast(cast, out)
        done.append(cast)
        log.info("%s: %d frames, %d shots, %d tracks, cast: %s -> %s", video, cast.frames,
                 len(cast.cuts) + 1, len(cast.tracks),
                 ", ".join(dict.fromkeys(t.label for t in cast.tracks)) or "nobody", out)
    return done
