"""Face detectors behind one interface: `detect(rgb) -> [Detection]` in that image's pixels.

`detect_scaled` runs any detector on a copy downscaled to `detect_max_side` and maps the
boxes back, so big photos cost no more than small ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from starrec.config import HaarParams, MtcnnParams


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # x, y, w, h
    score: float  # detector confidence; comparable only within one detector


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray, min_size: int) -> list[Detection]:
        """Faces in an RGB uint8 image; `min_size` (pixels) lets a detector skip small scales."""
        ...


class HaarDetector:
    """OpenCV Viola-Jones cascade; the score is the last stage's level weight."""

    name = "haar"

    def __init__(self, params: HaarParams) -> None:
        path = Path(cv2.data.haarcascades) / params.cascade
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise ValueError(f"{path}: not a loadable Haar cascade")
        self.params = params

    def detect(self, rgb: np.ndarray, min_size: int) -> list[Detection]:
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        side = max(self.params.min_size, min_size)
        boxes, _, weights = self.cascade.detectMultiScale3(
            gray, scaleFactor=self.params.scale_factor, minNeighbors=self.params.min_neighbors,
            minSize=(side, side), outputRejectLevels=True)
        return [Detection(tuple(int(v) for v in b), float(w))
                for b, w in zip(boxes, np.ravel(weights), strict=True)]


class MtcnnDetector:
    """The `mtcnn` package's cascaded CNN (weights ship in its wheel; imports TensorFlow)."""

    name = "mtcnn"

    def __init__(self, params: MtcnnParams) -> None:
        from mtcnn import MTCNN

        self.model = MTCNN(device="CPU:0")
        self.params = params

    def detect(self, rgb: np.ndarray, min_size: int) -> list[Detection]:
        # `min_size` is not passed on: mtcnn 1.0 sizes its pyramid for the default 20 px
        # only, and a larger min_face_size shrinks images below its 12 px net (no faces)
        found = self.model.detect_faces(rgb)
        return [Detection(tuple(int(v) for v in f["box"]), float(f["confidence"]))
                for f in found if f["confidence"] >= self.params.min_confidence]


def make_detector(name: str, haar: HaarParams, mtcnn: MtcnnParams) -> Detector:
    """The `extract.detector` named `name`, with its own params."""
    return HaarDetector(haar) if name == "haar" else MtcnnDetector(mtcnn)


def detect_scaled(detector: Detector, rgb: np.ndarray, max_side: int,
                  min_face_size: int) -> list[Detection]:
    """Detect on a copy whose longer side is at most `max_side`; boxes in `rgb`'s pixels.

    Faces smaller than `min_face_size` (photo pixels) would be dropped anyway, so the
    detector is told not to search for them.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    small = rgb if scale == 1.0 else cv2.resize(
        rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    found = detector.detect(small, max(1, int(min_face_size * scale)))
    if scale == 1.0:
        return found
    return [Detection(tuple(int(round(v / scale)) for v in d.box), d.score) for d in found]
