"""Boxes carried from one frame to the next by sparse optical flow (median flow).

Corners inside each box are followed with pyramidal Lucas-Kanade, forward and back; the
points that return to where they started vote by median for the box's shift and scale.
A box whose points are lost is reported as None (the track waits for the next detection).
OpenCV's own light trackers (MIL) cost ~15x more per face and do not follow a zoom; the
model-based ones (Nano, Vit, DaSiamRPN) need network files the headless wheel lacks.
"""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h
LK = dict(winSize=(15, 15), maxLevel=2,
          criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.03))
MIN_POINTS = 4  # fewer surviving points and the box is lost
MAX_BACK_ERROR = 1.0  # pixels: a point must come back this close to where it started
SCALE = 0.5  # the tracker's flow runs on half-size frames: half the cost, boxes as good


def small_gray(bgr: np.ndarray) -> np.ndarray:
    """The gray, `SCALE`-sized copy of a BGR frame that `carry` works on."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return cv2.resize(gray, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA)


def scaled(box: Box, factor: float) -> Box:
    return tuple(round(v * factor) for v in box)


def carry(prev: np.ndarray, cur: np.ndarray, boxes: list[Box], n_points: int
          ) -> list[Box | None]:
    """Boxes in frame pixels carried from `small_gray` frame `prev` to `cur` (None: lost)."""
    moved = propagate(prev, cur, [scaled(b, SCALE) for b in boxes], n_points)
    return [None if b is None else scaled(b, 1 / SCALE) for b in moved]


def corners(gray: np.ndarray, box: Box, n: int) -> np.ndarray:
    """Up to `n` corners inside the middle of `box` (the face, not the background), (K, 2)."""
    x, y, w, h = box
    x0, y0 = max(0, x + w // 6), max(0, y + h // 6)
    x1, y1 = min(gray.shape[1], x + w - w // 6), min(gray.shape[0], y + h - h // 6)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return np.zeros((0, 2), np.float32)
    found = cv2.goodFeaturesToTrack(gray[y0:y1, x0:x1], n, 0.01, max(2, min(w, h) // 12))
    if found is None:
        return np.zeros((0, 2), np.float32)
    return found.reshape(-1, 2) + np.float32([x0, y0])


def propagate(prev: np.ndarray, cur: np.ndarray, boxes: list[Box], n_points: int
              ) -> list[Box | None]:
    """Each box of gray frame `prev` moved onto gray frame `cur` (None: lost)."""
    pts = [corners(prev, b, n_points) for b in boxes]
    if not boxes or not sum(len(p) for p in pts):
        return [None] * len(boxes)
    p0 = np.concatenate(pts).reshape(-1, 1, 2)
    p1, ok1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, p0, None, **LK)
    back, ok2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, p1, None, **LK)
    good = (ok1.ravel() == 1) & (ok2.ravel() == 1) & (
        np.linalg.norm((back - p0).reshape(-1, 2), axis=1) < MAX_BACK_ERROR)
    p0, p1 = p0.reshape(-1, 2), p1.reshape(-1, 2)
    out, start = [], 0
    h, w = cur.shape[:2]
    for box, p in zip(boxes, pts, strict=True):
        sel = slice(start, start + len(p))
        start += len(p)
        keep = good[sel]
        out.append(_moved(box, p0[sel][keep], p1[sel][keep], w, h)
                   if keep.sum() >= MIN_POINTS else None)
    return out


def _moved(box: Box, a: np.ndarray, b: np.ndarray, w: int, h: int) -> Box | None:
    """`box` shifted by the points' median motion, scaled by the median ratio of their
    pairwise distances; None when it leaves the frame."""
    i, j = np.triu_indices(len(a), 1)
    da = np.linalg.norm(a[i] - a[j], axis=1)
    db = np.linalg.norm(b[i] - b[j], axis=1)
    far = da > 1.0
    scale = float(np.median(db[far] / da[far])) if far.any() else 1.0
    dx, dy = np.median(b - a, axis=0)
    x, y, bw, bh = box
    cx, cy = x + bw / 2 + dx, y + bh / 2 + dy
    nw, nh = bw * scale, bh * scale
    x0, y0 = max(0.0, cx - nw / 2), max(0.0, cy - nh / 2)
    x1, y1 = min(float(w), cx + nw / 2), min(float(h), cy + nh / 2)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return round(x0), round(y0), round(x1 - x0), round(y1 - y0)
