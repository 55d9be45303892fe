"""Nearest-prototype classifier over the enrolled gallery (the predict `Classifier` protocol)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from starrec.artifacts import GALLERY_JSON
from starrec.calibrate.rule import OpenSetRule
from starrec.config import ExtractParams
from starrec.enroll.enroll import backbone_meta
from starrec.enroll.gallery import EnrollError, load_gallery
from starrec.predict.recognize import Predictor
from starrec.faces.embed import embed


@dataclass
class PrototypeClassifier:
    """Scores = cosine similarity of a face's embedding to each star's prototype."""

    backbone: Any  # keras.Model
    classes: list[str]
    prototypes: np.ndarray  # (K, D) unit-norm
    image_size: int
    channels: int
    extract: ExtractParams
    threshold: float

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return (embed(self.backbone, images) @ self.prototypes.T).astype(np.float32)

    @property
    def rule(self) -> OpenSetRule:
        """Faces whose best cosine is under the calibrated threshold are `unknown`."""
        return OpenSetRule(score="max_prob", threshold=self.threshold)

    @classmethod
    def load(cls, backbone_path: str | Path) -> PrototypeClassifier:
        """The backbone plus the gallery beside it (`starrec enroll` writes it)."""
        import json

        import keras

        backbone_path = Path(backbone_path)
        meta_path = backbone_path.with_name(GALLERY_JSON)
        if not meta_path.is_file():
            raise EnrollError(f"{meta_path}: no stars enrolled (use `starrec enroll NAME PHOTOS...`)")
        meta = backbone_meta(backbone_path)
        gallery_meta = json.loads(meta_path.read_text())
        backbone = keras.saving.load_model(backbone_path, compile=False)
        gallery = load_gallery(backbone_path.parent, int(backbone.output_shape[-1]))
        if gallery.classes != gallery_meta["classes"]:
            raise EnrollError(f"{meta_path}: classes differ from {backbone_path.parent}/gallery.npz")
        return cls(backbone, gallery.classes, gallery.prototypes(), meta.image_size,
                   meta.channels, meta.extract, float(gallery_meta["threshold"]))


def load_prototype_predictor(backbone_path: str | Path, top_k: int) -> Predictor:
    """A predict `Predictor` over the enrolled stars, with the calibrated unknown rule."""
    clf = PrototypeClassifier.load(backbone_path)
    return Predictor(clf, clf.rule, top_k)
