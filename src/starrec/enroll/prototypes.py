"""Nearest-prototype classifier over the enrolled gallery (the predict `Classifier` protocol):
`starrec predict --model models/gallery.json`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from starrec.calibrate.rule import OpenSetRule
from starrec.config import ExtractParams
from starrec.enroll import EnrollError
from starrec.enroll.gallery import load_gallery, read_record
from starrec.enroll.source import EmbeddingSource, load_source
from starrec.predict.recognize import Predictor


@dataclass
class PrototypeClassifier:
    """Scores = cosine similarity of a face's embedding to each star's prototype."""

    source: EmbeddingSource
    classes: list[str]
    prototypes: np.ndarray  # (K, D) unit-norm
    threshold: float

    @property
    def extract(self) -> ExtractParams:
        return self.source.extract

    @property
    def image_size(self) -> int:
        return self.source.image_size

    @property
    def channels(self) -> int:
        return self.source.channels

    def embed(self, images: np.ndarray) -> np.ndarray:
        return self.source.embed(images)

    def proba_of_embeddings(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) @ self.prototypes.T).astype(np.float32)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return self.proba_of_embeddings(self.embed(images))

    @property
    def rule(self) -> OpenSetRule:
        """Faces whose best cosine is under the calibrated threshold are `unknown`."""
        return OpenSetRule(score="max_prob", threshold=self.threshold)

    @classmethod
    def load(cls, gallery_json: str | Path, batch_size: int) -> PrototypeClassifier:
        """The gallery `starrec enroll` wrote, on the model its gallery.json names."""
        gallery_json = Path(gallery_json)
        record = read_record(gallery_json.parent)
        if record is None:
            raise EnrollError(f"{gallery_json}: no stars enrolled "
                              "(use `starrec enroll NAME PHOTOS...`)")
        source = load_source(gallery_json.with_name(record["model"]), batch_size)
        gallery = load_gallery(source)
        if gallery.classes != record["classes"]:
            raise EnrollError(f"{gallery_json}: classes differ from its gallery.npz")
        return cls(source, gallery.classes, gallery.prototypes(), float(record["threshold"]))


def load_prototype_predictor(gallery_json: str | Path, top_k: int, batch_size: int) -> Predictor:
    """A predict `Predictor` over the enrolled stars, with the calibrated unknown rule."""
    clf = PrototypeClassifier.load(gallery_json, batch_size)
    return Predictor(clf, clf.rule, top_k)
