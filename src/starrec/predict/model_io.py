"""The train stage's model for prediction: model.keras with its model_meta.json (and the
calibrated open_set.json) beside it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from starrec.artifacts import MODEL_META, OPEN_SET
from starrec.calibrate.rule import OpenSetRule, ThresholdMismatch, load_rule
from starrec.config import ExtractParams
from starrec.model_meta import MetaError, read_meta
from starrec.predict.recognize import Predictor

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """The model cannot be found or is not a starrec model (the message says which and why)."""


@dataclass
class KerasClassifier:
    """The train stage's softmax model, with the class names and crop params it was trained on."""

    model: Any  # keras.Model
    classes: list[str]
    image_size: int
    channels: int
    extract: ExtractParams
    batch_size: int

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(images, batch_size=self.batch_size, verbose=0),
                          dtype=np.float32)

    @classmethod
    def from_files(cls, model_path: str | Path, meta_path: str | Path,
                   batch_size: int) -> KerasClassifier:
        import keras

        model_path, meta_path = Path(model_path), Path(meta_path)
        if not model_path.is_file():
            raise ModelLoadError(f"{model_path}: no such model file")
        try:
            meta = read_meta(meta_path)
        except MetaError as exc:
            raise ModelLoadError(str(exc)) from exc
        if meta.classes is None:
            raise ModelLoadError(f"{meta_path}: no classes (not a classifier's meta)")
        model = keras.saving.load_model(model_path, compile=False)
        n_out = int(model.output_shape[-1])
        if n_out != len(meta.classes):
            raise ModelLoadError(f"{model_path}: {n_out} outputs but {len(meta.classes)} "
                                 f"classes in {meta_path}")
        return cls(model, meta.classes, meta.image_size, meta.channels, meta.extract, batch_size)


def load_keras_predictor(model_path: str | Path, top_k: int, batch_size: int) -> Predictor:
    """A .keras file + model_meta.json beside it (+ open_set.json, refused when calibrated for
    another model; without it no face is `unknown`)."""
    model_path = Path(model_path)
    classifier = KerasClassifier.from_files(model_path, model_path.with_name(MODEL_META),
                                            batch_size)
    rule_path = model_path.with_name(OPEN_SET)
    if rule_path.is_file():
        try:
            rule = load_rule(rule_path, model_path)
        except ThresholdMismatch as exc:
            raise ModelLoadError(str(exc)) from exc
    else:
        log.warning("%s: no open-set threshold beside the model; every face gets a star's name",
                    rule_path)
        rule = OpenSetRule("max_prob", 0.0)
    return Predictor(classifier, rule, top_k)
