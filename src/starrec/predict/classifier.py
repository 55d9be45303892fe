"""What a face classifier must offer the predictor, the open-set rule and the server.

One small protocol so the softmax Keras model (train stage) and a few-shot prototype
classifier (pretrain/enrol) plug into the same prediction, calibration and serving code.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from starrec.config import ExtractParams

UNKNOWN = "unknown"


@runtime_checkable
class Classifier(Protocol):
    """Face crops in, one score per class out.

    `predict_proba(images)`: images float32 in [0, 1], shape (N, image_size, image_size,
    channels), exactly as the TFRecord reader yields them; returns (N, len(classes)) float32,
    higher = more likely (softmax probabilities, or e.g. cosine similarities to prototypes).
    `extract`: the face-detection/cropping params the classifier was trained with, so
    prediction crops faces the same way.
    """

    classes: list[str]
    image_size: int
    channels: int
    extract: ExtractParams

    def predict_proba(self, images: np.ndarray) -> np.ndarray: ...
