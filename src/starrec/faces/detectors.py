"""Face detectors behind one interface: `detect(rgb) -> [Detection]` in that image's pixels.

`detect_scaled` runs any detector on a copy downscaled to `detect_max_side` and maps the
boxes (and landmarks) back, so big photos cost no more than small ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from starrec.config import (
    ExtractParams,
    FaceModelsParams,
    HaarParams,
    HttpParams,
    MtcnnParams,
    YunetParams,
)

Landmarks = tuple[tuple[float, float], ...]  # 5 points: eyes, nose tip, mouth corners


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # x, y, w, h
    score: float  # detector confidence; comparable only within one detector
    # image-left eye, image-right eye, nose tip, image-left and image-right mouth corner
    # (the order of the 112x112 alignment template); None for detectors without landmarks
    landmarks: Landmarks | None = None


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
        return [Detection(tuple(int(v) for v in f["box"]), float(f["confidence"]),
                          tuple(tuple(float(c) for c in f["keypoints"][k]) for k in MTCNN_POINTS))
                for f in found if f["confidence"] >= self.params.min_confidence]


class YunetDetector:
    """YuNet (OpenCV zoo, `cv2.FaceDetectorYN`): boxes, a score and 5 landmarks per face, which
    let every face be aligned onto the template the embedders were trained with. One
    `cv2.FaceDetectorYN` is reused for every image (its input size is set per image)."""

    name = "yunet"

    def __init__(self, params: YunetParams, model: Path) -> None:
        self.model = cv2.FaceDetectorYN.create(
            str(model), "", (320, 320), score_threshold=params.score_threshold,
            nms_threshold=params.nms_threshold, top_k=params.top_k)

    def detect(self, rgb: np.ndarray, min_size: int) -> list[Detection]:
        # `min_size` is not used: YuNet scores every scale in one pass; small faces are
        # dropped by the caller's min_face_size filter
        h, w = rgb.shape[:2]
        self.model.setInputSize((w, h))
        _, rows = self.model.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if rows is None:
            return []
        # a row: x, y, w, h, then (x, y) of right eye, left eye, nose tip, right and left
        # mouth corner of the person (= image-left first), then the score
        return [Detection(tuple(int(round(v)) for v in r[:4]), float(r[14]),
                          tuple((float(r[i]), float(r[i + 1])) for i in range(4, 14, 2)))
                for r in rows]


# mtcnn names points as seen in the image ("left_eye" is the image-left one)
MTCNN_POINTS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def make_detector(cfg: ExtractParams, models: FaceModelsParams | None = None,
                  http: HttpParams | None = None) -> Detector:
    """The configured detector. YuNet's file comes from `faces.models` (and, to download it,
    `download.http`); without them (a model's saved extract params at prediction) from the
    verified package copy."""
    if cfg.detector == "haar":
        return HaarDetector(cfg.haar)
    if cfg.detector == "mtcnn":
        return MtcnnDetector(cfg.mtcnn)
    from starrec.faces.model_files import model_file, resolve_model_file

    path = resolve_model_file("yunet") if models is None else model_file("yunet", models, http)
    return YunetDetector(cfg.yunet, path)


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
    return [Detection(tuple(int(round(v / scale)) for v in d.box), d.score,
                      None if d.landmarks is None
                      else tuple((x / scale, y / scale) for x, y in d.landmarks))
            for d in found]
