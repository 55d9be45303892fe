"""One photo in, every face out: detect, crop and classify exactly as in training.

Detection and cropping are the extract stage's code with the model's own extract params
(only the keep-one-face policy is lifted: a group photo has several faces to name).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from starrec.calibrate.rule import OpenSetRule
from starrec.faces.detect import faces_in_image, to_input
from starrec.faces.detectors import Detector
from starrec.predict.classifier import UNKNOWN, Classifier


@dataclass(frozen=True)
class FacePrediction:
    box: tuple[int, int, int, int]  # x, y, w, h in photo pixels
    label: str  # a class name, or "unknown"
    confidence: float  # the top class score
    score: float  # the open-set score compared with the threshold
    top: list[tuple[str, float]] = field(default_factory=list)
    threshold: float = 0.0  # the open-set rule's: a score below it is `unknown`

    @property
    def caption(self) -> str:
        """What the face is labelled with: `name 0.97`, or for an unknown face the rejected
        best guess, its score and the threshold it missed: `unknown (best: name 0.86 < 0.94)`."""
        if self.label != UNKNOWN:
            return f"{self.label} {self.confidence:.2f}"
        best = self.top[0][0] if self.top else "?"
        return f"{UNKNOWN} (best: {best} {self.score:.2f} < {self.threshold:.2f})"

    def to_json(self) -> dict[str, Any]:
        return {"box": list(self.box), "label": self.label, "caption": self.caption,
                "confidence": self.confidence, "score": self.score, "threshold": self.threshold,
                "top": [{"label": n, "confidence": p} for n, p in self.top]}


class Predictor:
    """Detector + preprocessing + classifier + open-set rule, for photos and video frames."""

    def __init__(self, classifier: Classifier, rule: OpenSetRule, top_k: int,
                 detector: Detector | None = None) -> None:
        self.classifier = classifier
        self.rule = rule
        self.top_k = top_k
        self.extract = classifier.extract.model_copy(update={"policy": "all"})
        self.detector = detector  # None: the extract params' detector, from installed files

    def __call__(self, rgb: np.ndarray) -> list[FacePrediction]:
        """Every face in an RGB photo, named (or `unknown`), with its box."""
        crops = faces_in_image(rgb, self.extract, self.detector)
        if not crops:
            return []
        named = self.classify(np.stack([to_input(c.image, self.classifier.channels)
                                        for c in crops]))
        return [replace(f, box=tuple(int(v) for v in c.box))
                for c, f in zip(crops, named, strict=True)]

    def classify(self, batch: np.ndarray) -> list[FacePrediction]:
        """Name a batch of model-ready crops (float32 [0,1] NxHxWxC); boxes left empty."""
        return self.name(self.classifier.predict_proba(batch))

    def name(self, probs: np.ndarray) -> list[FacePrediction]:
        """Name faces from their class scores (N, classes): top-k and the open-set rule."""
        probs = np.asarray(probs, dtype=np.float64)
        accepted, scores = self.rule.accept(probs)
        names = list(self.classifier.classes)
        out = []
        for p, ok, s in zip(probs, accepted, scores, strict=True):
            order = np.argsort(-p)[: self.top_k]
            out.append(FacePrediction(
                box=(0, 0, 0, 0), label=names[order[0]] if ok else UNKNOWN,
                confidence=float(p[order[0]]), score=float(s),
                top=[(names[i], float(p[i])) for i in order], threshold=self.rule.threshold))
        return out
