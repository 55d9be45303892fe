"""YuNet (OpenCV zoo, `cv2.FaceDetectorYN`): boxes, a score and 5 landmarks per face.

The landmarks let every face be aligned onto the template the embedders were trained with,
which a box-only detector (Haar) cannot give.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from starrec.config import YunetParams
from starrec.faces.detectors import Detection


class YunetDetector:
    """One `cv2.FaceDetectorYN` reused for every image (its input size is set per image)."""

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
