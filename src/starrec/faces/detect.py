"""Faces of one photo → crops: the extract stage's and the predictor's code.

Keeping this in one function means a face is cut exactly the same way for training and for
prediction. A detector with landmarks (YuNet, MTCNN) gives crops aligned onto the 5-point
template the pretrained embedders were trained with; Haar gives a square crop with margin.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import cv2
import numpy as np

from starrec.config import ExtractParams
from starrec.faces.align import align_face
from starrec.faces.detectors import (
    Detection,
    Detector,
    Landmarks,
    detect_scaled,
    make_detector,
)


@dataclass(frozen=True)
class FaceCrop:
    box: tuple[int, int, int, int]  # detected x, y, w, h in photo pixels (before margin)
    score: float
    image: np.ndarray = field(repr=False)  # uint8, image_size², HxW (gray) or HxWx3 (rgb)
    landmarks: Landmarks | None = None  # 5 points in photo pixels (detectors that give them)

    @property
    def face_size(self) -> int:
        """The detected face's side in photo pixels."""
        return max(self.box[2], self.box[3])

    @property
    def blur_var(self) -> float:
        """Variance of the Laplacian of the crop: low means blurry."""
        gray = self.image if self.image.ndim == 2 else cv2.cvtColor(self.image, cv2.COLOR_RGB2GRAY)
        return float(cv2.Laplacian(gray, cv2.CV_64F).var())


@dataclass(frozen=True)
class FaceResult:
    crops: list[FaceCrop]  # the faces kept by the policy
    found: int  # detections before the size filter
    largest: int  # the largest detected face side (0 when none)


def find_faces(rgb: np.ndarray, cfg: ExtractParams, detector: Detector) -> FaceResult:
    """Detect, drop faces under `min_face_size`, keep per `policy`, cut each one (aligned when
    the detector gives landmarks)."""
    found = detect_scaled(detector, rgb, cfg.detect_max_side, cfg.min_face_size)
    big = [d for d in found if max(d.box[2], d.box[3]) >= cfg.min_face_size]
    kept = pick(big, cfg.policy)
    return FaceResult([FaceCrop(d.box, d.score, cut(rgb, d, cfg), d.landmarks) for d in kept],
                      len(found), max((max(d.box[2], d.box[3]) for d in found), default=0))


def faces_in_image(rgb: np.ndarray, cfg: ExtractParams,
                   detector: Detector | None = None) -> list[FaceCrop]:
    """Faces in an RGB uint8 photo, cut as the extract stage cuts them (largest first)."""
    return find_faces(rgb, cfg, detector or cached_detector(cfg)).crops


def cached_detector(cfg: ExtractParams) -> Detector:
    """One detector per process and setting (loading MTCNN takes seconds)."""
    return _cached(cfg)


_cached = functools.lru_cache(maxsize=4)(make_detector)


def pick(found: list[Detection], policy: str) -> list[Detection]:
    """`largest`: the biggest face; `most_confident`: the best score; `all`: every face,
    largest first (ties broken by position, so the order is deterministic)."""
    by_size = sorted(found, key=lambda d: (-d.box[2] * d.box[3], d.box[0], d.box[1]))
    if policy == "all" or not by_size:
        return by_size
    if policy == "largest":
        return by_size[:1]
    return [max(by_size, key=lambda d: d.score)]  # stable: the larger face wins a tie


def cut(rgb: np.ndarray, face: Detection, cfg: ExtractParams) -> np.ndarray:
    """The face aligned onto the 5-point template (`image_size`², `color_mode`) when it has
    landmarks, else the square `crop`."""
    if face.landmarks is None:
        return crop(rgb, face.box, cfg)
    aligned = align_face(rgb, face.landmarks, cfg.image_size)
    return cv2.cvtColor(aligned, cv2.COLOR_RGB2GRAY) if cfg.color_mode == "gray" else aligned


def crop(rgb: np.ndarray, box: tuple[int, int, int, int], cfg: ExtractParams) -> np.ndarray:
    """Square crop around `box` grown by `margin` per side, resized to `image_size`.

    The square is shifted to stay inside the photo; only a square larger than the photo is
    padded (edge pixels replicated), so crops never show artificial borders otherwise.
    """
    h, w = rgb.shape[:2]
    x, y, bw, bh = box
    side = int(round(max(bw, bh) * (1 + 2 * cfg.margin)))
    x0 = int(round(x + bw / 2 - side / 2))
    y0 = int(round(y + bh / 2 - side / 2))
    x0 = min(max(x0, 0), max(w - side, 0)) if side <= w else (w - side) // 2
    y0 = min(max(y0, 0), max(h - side, 0)) if side <= h else (h - side) // 2
    pad = max(0, -x0, -y0, x0 + side - w, y0 + side - h)
    src = rgb if pad == 0 else cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    face = src[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]
    size = cfg.image_size
    interp = cv2.INTER_AREA if side >= size else cv2.INTER_CUBIC
    face = cv2.resize(face, (size, size), interpolation=interp)
    return cv2.cvtColor(face, cv2.COLOR_RGB2GRAY) if cfg.color_mode == "gray" else face


def to_input(face: np.ndarray, channels: int) -> np.ndarray:
    """A uint8 crop (as extract_faces saves it) → float32 [0, 1] HxWxC, as the TFRecord
    reader feeds training: the last step of the face-input path."""
    x = np.asarray(face, dtype=np.float32) / 255.0
    if x.ndim == 2:
        x = x[..., None]
    if x.shape[-1] != channels:
        x = x.mean(axis=-1, keepdims=True) if channels == 1 else np.repeat(x[..., :1], channels, -1)
    return x
