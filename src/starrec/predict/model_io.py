"""The train stage's model for prediction: model.keras with its model_meta.json (and the
calibrated open_set.json) beside it.

A CNN takes the face crops itself (`KerasClassifier`); a head on pretrained embeddings
(`train.model: embedding_head`) is fed by the embedder its meta names (`EmbeddingClassifier`),
through the same `embed_aligned` the embed stage uses, so prediction sees what training saw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from starrec.artifacts import MODEL_META, OPEN_SET
from starrec.calibrate.rule import OpenSetRule, ThresholdMismatch, load_rule
from starrec.config import ExtractParams
from starrec.faces.artifacts import ModelFileError, artifact, resolve_model_file
from starrec.faces.embed import EMBEDDER_FILES, EMBEDDERS, Embedder, embed_aligned
from starrec.model_meta import MetaError, ModelMeta, read_meta
from starrec.predict.recognize import Predictor

log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """The model cannot be found or is not a starrec model (the message says which and why)."""


def batched_proba(model: Any, x: np.ndarray, batch_size: int) -> np.ndarray:
    """`model`'s outputs in batches of `batch_size`, by `predict_on_batch`: `predict` builds a
    tf.data pipeline on every call, 57 of the 76 ms a one-face photo took to recognise."""
    return np.concatenate([np.asarray(model.predict_on_batch(x[i:i + batch_size]), np.float32)
                           for i in range(0, len(x), batch_size)]) if len(x) else np.zeros(
        (0, model.output_shape[-1]), np.float32)


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
        return batched_proba(self.model, images, self.batch_size)


@dataclass
class EmbeddingClassifier:
    """A softmax head on pretrained embeddings: aligned crops → embedder → head."""

    head: Any  # keras.Model on (N, dim) embeddings
    embedder: Embedder
    classes: list[str]
    image_size: int
    channels: int
    extract: ExtractParams
    batch_size: int

    def embed(self, images: np.ndarray) -> np.ndarray:
        """Embeddings of float32 [0, 1] crops (the uint8 crops /255, so the round trip to
        uint8 is exact)."""
        crops = np.rint(np.asarray(images, np.float32) * 255.0).astype(np.uint8)
        return embed_aligned(self.embedder, crops)

    def proba_of_embeddings(self, x: np.ndarray) -> np.ndarray:
        return batched_proba(self.head, np.asarray(x, np.float32), self.batch_size)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return self.proba_of_embeddings(self.embed(images))


Classifier = KerasClassifier | EmbeddingClassifier


def load_classifier(model_path: str | Path, meta_path: str | Path, batch_size: int,
                    embedder_file: str | Path | None = None) -> Classifier:
    """The classifier in `model_path` as its meta describes it. A head on embeddings gets its
    embedder from `embedder_file` (a logged copy) or the verified installed one."""
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
    try:
        model = keras.saving.load_model(model_path, compile=False)
    except Exception as exc:  # noqa: BLE001 - keras raises many types for a non-model file
        raise ModelLoadError(f"{model_path}: not a Keras model ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    n_out = int(model.output_shape[-1])
    if n_out != len(meta.classes):
        raise ModelLoadError(f"{model_path}: {n_out} outputs but {len(meta.classes)} "
                             f"classes in {meta_path}")
    if meta.embedder is None:
        return KerasClassifier(model, meta.classes, meta.image_size, meta.channels,
                               meta.extract, batch_size)
    return EmbeddingClassifier(model, _embedder(meta, meta_path, embedder_file), meta.classes,
                               meta.image_size, meta.channels, meta.extract, batch_size)


def _embedder(meta: ModelMeta, meta_path: Path, file: str | Path | None) -> Embedder:
    aligned = [n for n, e in EMBEDDERS.items() if e.input.crop == "aligned_5pt"]
    if meta.embedder not in aligned:
        raise ModelLoadError(f"{meta_path}: embedder {meta.embedder!r}: prediction runs "
                             f"embedders of aligned crops ({', '.join(aligned)})")
    name = EMBEDDER_FILES[meta.embedder][0]
    if meta.embedder_sha256 and meta.embedder_sha256 != artifact(name).sha256:
        raise ModelLoadError(f"{meta_path}: trained on {name} sha256 {meta.embedder_sha256[:12]}"
                             f", not the verified {artifact(name).sha256[:12]}")
    try:
        return EMBEDDERS[meta.embedder](resolve_model_file(name, file))
    except ModelFileError as exc:
        raise ModelLoadError(str(exc)) from exc


def load_keras_predictor(model_path: str | Path, top_k: int, batch_size: int) -> Predictor:
    """A .keras file + model_meta.json beside it (+ open_set.json, refused when calibrated for
    another model; without it no face is `unknown`)."""
    model_path = Path(model_path)
    classifier = load_classifier(model_path, model_path.with_name(MODEL_META), batch_size)
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
