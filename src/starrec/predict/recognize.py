"""One photo in, every face out: detect, crop and classify exactly as in training.

Detection and cropping reuse the extract stage's code with the model's own extract params
(only the keep-one-face policy is lifted: a group photo has several faces to name).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from starrec.config import ExtractParams
from starrec.predict.classifier import UNKNOWN, Classifier, OpenSetRule


class ImageError(ValueError):
    """The bytes are not an image we can read (the message says why)."""


@dataclass(frozen=True)
class FacePrediction:
    box: tuple[int, int, int, int]  # x, y, w, h in photo pixels
    label: str  # a class name, or "unknown"
    confidence: float  # the top class score
    score: float  # the open-set score compared with the threshold
    top: list[tuple[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"box": list(self.box), "label": self.label, "confidence": self.confidence,
                "score": self.score, "top": [{"label": n, "confidence": p} for n, p in self.top]}


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """Encoded image bytes → RGB uint8 (EXIF orientation applied), refusing huge images
    before their pixels are decoded."""
    try:
        img = Image.open(io.BytesIO(data))
        w, h = img.size
        if w * h > max_pixels:
            raise ImageError(f"image too large: {w}x{h} pixels > {max_pixels}")
        img = ImageOps.exif_transpose(img)
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit gray: scale, don't clip
            arr = np.asarray(img, dtype=np.float64)
            img = Image.fromarray((arr * 255.0 / max(arr.max(), 1.0)).astype(np.uint8))
        return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageError(f"not a readable image ({type(exc).__name__}: {exc})") from exc


class Predictor:
    """Detector + preprocessing + classifier + open-set rule, for photos and video frames."""

    def __init__(self, classifier: Classifier, rule: OpenSetRule, top_k: int = 3) -> None:
        self.classifier = classifier
        self.rule = rule
        self.top_k = top_k
        self.extract = classifier.extract.model_copy(update={"policy": "all"})

    def __call__(self, rgb: np.ndarray) -> list[FacePrediction]:
        """Every face in an RGB photo, named (or `unknown`), with its box."""
        crops = detect(rgb, self.extract)
        if not crops:
            return []
        named = self.classify(np.stack([to_input(c.image, self.classifier.channels)
                                        for c in crops]))
        return [replace(f, box=tuple(int(v) for v in c.box))
                for c, f in zip(crops, named, strict=True)]

    def classify(self, batch: np.ndarray) -> list[FacePrediction]:
        """Name a batch of model-ready crops (float32 [0,1] NxHxWxC); boxes left empty."""
        probs = np.asarray(self.classifier.predict_proba(batch), dtype=np.float64)
        accepted, scores = self.rule.accept(probs)
        names = list(self.classifier.classes)
        out = []
        for p, ok, s in zip(probs, accepted, scores, strict=True):
            order = np.argsort(-p)[: self.top_k]
            out.append(FacePrediction(
                box=(0, 0, 0, 0), label=names[order[0]] if ok else UNKNOWN,
                confidence=float(p[order[0]]), score=float(s),
                top=[(names[i], float(p[i])) for i in order]))
        return out

def detect(rgb: np.ndarray, extract: ExtractParams) -> list:
    """Faces in an RGB photo, cropped by the extract stage's own code (FaceCrop: box, image)."""
    from starrec.faces.detect import faces_in_image

    return faces_in_image(rgb, extract)


def to_input(face: np.ndarray, channels: int) -> np.ndarray:
    """A uint8 crop (as extract_faces saves it) → float32 [0, 1] HxWxC, as the TFRecord
    reader feeds training."""
    x = np.asarray(face, dtype=np.float32) / 255.0
    if x.ndim == 2:
        x = x[..., None]
    if x.shape[-1] != channels:
        x = x.mean(axis=-1, keepdims=True) if channels == 1 else np.repeat(x[..., :1], channels, -1)
    return x
