"""The champion model seen from the library: a face's embedding and the model's answer for
an embedding, so faces are embedded once and re-labelled by any later model from the stored
vectors without detecting again."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from starrec.enroll.prototypes import PrototypeClassifier
from starrec.faces.detect import FaceCrop, faces_in_image, to_input
from starrec.faces.embed import EMBEDDER_FILES
from starrec.faces.model_files import artifact
from starrec.library import LibraryError
from starrec.library.index import EmbedderId
from starrec.predict.classifier import UNKNOWN
from starrec.predict.model_io import EmbeddingClassifier
from starrec.predict.recognize import Predictor


@dataclass(frozen=True)
class Recognizer:
    predictor: Predictor
    uri: str  # what the user named: models:/…@champion, a .keras file, a gallery.json
    model_id: str  # sha256 of the classifier's weights, classes and threshold
    embedder: EmbedderId
    embed: Callable[[np.ndarray], np.ndarray]  # float32 [0, 1] crops -> (N, D) unit norm
    scores: Callable[[np.ndarray], np.ndarray]  # (N, D) embeddings -> (N, classes)

    def faces(self, rgb: np.ndarray) -> list[FaceCrop]:
        """Every face of a photo, cut as the model's training cut them."""
        return faces_in_image(rgb, self.predictor.extract, self.predictor.detector)

    def embed_faces(self, crops: list[FaceCrop]) -> np.ndarray:
        channels = self.predictor.classifier.channels
        return self.embed(np.stack([to_input(c.image, channels) for c in crops]))

    def answer(self, embeddings: np.ndarray) -> tuple[list[str], np.ndarray]:
        """The model's label (a star or `unknown`, by its open-set rule) and open-set score
        for each embedding."""
        if not len(embeddings):
            return [], np.zeros(0)
        probs = np.asarray(self.scores(embeddings), np.float64)
        accepted, score = self.predictor.rule.accept(probs)
        classes = self.predictor.classifier.classes
        return ([classes[i] if ok else UNKNOWN for i, ok in zip(probs.argmax(1), accepted,
                                                                strict=True)], score)


def recognizer_of(predictor: Predictor, uri: str) -> Recognizer:
    """A library view of a loaded predictor; a CNN on crops has no embedding to index."""
    clf = predictor.classifier
    if isinstance(clf, EmbeddingClassifier):
        name = clf.embedder.name
        weights = clf.head.get_weights()
        embed, scores = clf.embed, clf.proba_of_embeddings
        sha = artifact(EMBEDDER_FILES[name][0]).sha256
    elif isinstance(clf, PrototypeClassifier):
        name, sha = clf.source.embedder, clf.source.embedder_sha256
        weights = [clf.prototypes]
        embed = clf.source.embed
        protos = clf.prototypes

        def scores(x: np.ndarray) -> np.ndarray:
            return x @ protos.T
    else:
        raise LibraryError(f"{uri}: a CNN on face crops gives no face embeddings to index; "
                           "use a model on embeddings (train.model: embedding_head) or a "
                           "gallery.json")
    h = hashlib.sha256()
    for w in weights:
        h.update(np.ascontiguousarray(w, np.float32).tobytes())
    h.update("\n".join(clf.classes).encode())
    h.update(f"{predictor.rule.score}:{predictor.rule.threshold!r}".encode())
    dim = int(np.asarray(embed(np.zeros((1, clf.image_size, clf.image_size, clf.channels),
                                        np.float32))).shape[1])
    return Recognizer(predictor, uri, f"sha256:{h.hexdigest()}", EmbedderId(name, sha, dim),
                      embed, scores)
