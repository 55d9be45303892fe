"""The model a gallery stands on: its face path (extract params, embedder) and impostor bank.

`model.keras` of a head on embeddings (`train.model: embedding_head`, the default): faces cut
with its meta's extract params and embedded by its embedder (SFace) through the same
`EmbeddingClassifier.embed` as prediction and serving; impostors from the calibrate stage's
`impostors.npz`. `backbone.keras`: the pretrain stage's own backbone, with its
backbone_meta.json and `backbone_impostors.npz`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from starrec.artifacts import BACKBONE, BACKBONE_IMPOSTORS, IMPOSTORS, MODEL_META
from starrec.config import ExtractParams
from starrec.enroll import EnrollError
from starrec.faces.model_files import ModelFileError, artifact, sha256_of
from starrec.faces.embed import EMBEDDER_FILES, OwnEmbedder
from starrec.predict.model_io import EmbeddingClassifier, ModelLoadError, load_classifier


@dataclass(frozen=True)
class EmbeddingSource:
    """How a photo's face becomes an embedding for the model file `model`."""

    model: Path  # models/model.keras or models/backbone.keras; the gallery lives beside it
    embedder: str  # sface | own
    embedder_sha256: str  # of the embedder's weights: a gallery's vectors hold for these only
    extract: ExtractParams
    image_size: int
    channels: int
    embed: Callable[[np.ndarray], np.ndarray]  # float32 [0, 1] crops -> (N, D) unit norm

    @property
    def impostors(self) -> Path:
        return impostors_file(self.model)


def impostors_file(model: Path) -> Path:
    """The impostor bank beside `model`: held-out people's embeddings by its embedder."""
    return model.with_name(BACKBONE_IMPOSTORS if model.name == BACKBONE else IMPOSTORS)


def load_source(model: str | Path, batch_size: int) -> EmbeddingSource:
    model = Path(model)
    if not model.is_file():
        raise EnrollError(f"{model}: no such model; run dvc repro first")
    return _backbone(model) if model.name == BACKBONE else _head(model, batch_size)


def _head(model: Path, batch_size: int) -> EmbeddingSource:
    try:
        clf = load_classifier(model, model.with_name(MODEL_META), batch_size)
    except ModelLoadError as exc:
        raise EnrollError(str(exc)) from exc
    if not isinstance(clf, EmbeddingClassifier):
        raise EnrollError(f"{model}: a CNN on face crops has no embeddings to enrol with "
                          "(train.model embedding_head, or --model models/backbone.keras)")
    sha = artifact(EMBEDDER_FILES[clf.embedder.name][0]).sha256
    return EmbeddingSource(model, clf.embedder.name, sha, clf.extract, clf.image_size,
                           clf.channels, clf.embed)


def _backbone(model: Path) -> EmbeddingSource:
    try:
        own = OwnEmbedder(model)
    except ModelFileError as exc:
        raise EnrollError(str(exc)) from exc
    return EmbeddingSource(model, own.name, sha256_of(model), own.meta.extract,
                           own.meta.image_size, own.meta.channels, own.embed)
