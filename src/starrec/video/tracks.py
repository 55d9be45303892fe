"""Faces linked across frames into tracks: one person, within one shot.

Every `detect_every` frames (and on the first frame of each shot) the faces found are
matched to the live tracks by Hungarian assignment on a similarity of box overlap (the
track's box carried there by optical flow) and embedding cosine (its latest face); a face
left over starts a track, a track left over counts a miss and ends after `miss_budget`.
A shot cut ends every track.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from starrec.config import VideoParams
from starrec.video.flow import Box, carry, small_gray
from starrec.video.observe import Observation
from starrec.video.shots import colour_hist, cut_distance


@dataclass(eq=False)  # a track is itself, not its contents
class Track:
    id: int
    box: Box  # where the face is now (detected, or carried by the flow)
    start: int  # first frame
    end: int  # last frame the face was confirmed on screen
    seen: int  # last frame the flow still held the face
    observations: list[Observation] = field(default_factory=list)
    misses: int = 0

    def add(self, obs: Observation) -> None:
        self.observations.append(obs)
        self.box, self.end, self.seen, self.misses = obs.box, obs.frame, obs.frame, 0


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    return inter / float(aw * ah + bw * bh - inter) if inter else 0.0


def similarity(tracks: list[Track], obs: list[Observation], iou_weight: float) -> np.ndarray:
    """(tracks, observations): w * IoU + (1 - w) * cosine of the track's latest face."""
    overlap = np.array([[iou(t.box, o.box) for o in obs] for t in tracks])
    cosine = (np.stack([t.observations[-1].embedding for t in tracks])
              @ np.stack([o.embedding for o in obs]).T)
    return iou_weight * overlap + (1 - iou_weight) * cosine


def match(sim: np.ndarray, min_similarity: float) -> list[tuple[int, int]]:
    """(track, observation) pairs of the best one-to-one assignment at or above the floor."""
    if sim.size == 0:
        return []
    rows, cols = linear_sum_assignment(-sim)
    return [(r, c) for r, c in zip(rows, cols, strict=True) if sim[r, c] >= min_similarity]


class Tracker:
    """Feed frames in order (`step`); `finish` returns every track, ended."""

    def __init__(self, params: VideoParams,
                 observe: Callable[[np.ndarray, int], list[Observation]]) -> None:
        self.params = params
        self.observe = observe  # (RGB frame, frame index) -> observations
        self.live: list[Track] = []
        self.done: list[Track] = []
        self.prev_gray: np.ndarray | None = None
        self.prev_hist: np.ndarray | None = None
        self.last_detect = -params.detect_every
        self.cuts: list[int] = []  # first frames of shots after the first

    def step(self, i: int, bgr: np.ndarray) -> None:
        """Frame `i` (BGR): end the tracks at a cut, else carry them by the flow; detect when
        due (every `detect_every` frames, and on a shot's first frame)."""
        gray = small_gray(bgr)
        hist = colour_hist(bgr)
        cut = self.prev_hist is not None and \
            cut_distance(self.prev_hist, hist) > self.params.cut_distance
        if cut:
            self.cuts.append(i)
            self._end_all()
        elif self.live and self.prev_gray is not None:
            moved = carry(self.prev_gray, gray, [t.box for t in self.live],
                          self.params.flow_points)
            for t, box in zip(self.live, moved, strict=True):
                if box is not None:  # a track that missed its last detection is not `seen`
                    t.box, t.seen = box, i if t.misses == 0 else t.seen
        if cut or i - self.last_detect >= self.params.detect_every:
            self._update(self.observe(np.ascontiguousarray(bgr[..., ::-1]), i))
            self.last_detect = i
        self.prev_gray, self.prev_hist = gray, hist

    def _update(self, obs: list[Observation]) -> None:
        pairs = match(similarity(self.live, obs, self.params.iou_weight)
                      if self.live and obs else np.zeros((0, 0)), self.params.min_similarity)
        for r, c in pairs:
            self.live[r].add(obs[c])
        matched_t, matched_o = {r for r, _ in pairs}, {c for _, c in pairs}
        for k, t in enumerate(self.live):
            if k not in matched_t:
                t.misses += 1
        ended = [t for t in self.live if t.misses > self.params.miss_budget]
        self.done += ended
        self.live = [t for t in self.live if t not in ended]
        for c, o in enumerate(obs):
            if c not in matched_o:
                t = Track(len(self.live) + len(self.done) + 1, o.box, o.frame, o.frame, o.frame)
                t.add(o)
                self.live.append(t)

    def _end_all(self) -> None:
        """End the live tracks at the last frame each was held (a cut, or the video's end)."""
        for t in self.live:
            if t.misses == 0:
                t.end = t.seen
        self.done += self.live
        self.live = []

    def finish(self) -> list[Track]:
        self._end_all()
        return sorted(self.done, key=lambda t: (t.start, t.id))
