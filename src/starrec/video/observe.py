"""One detection frame → observations: every face big enough, its embedding, its name and
how much its vote counts.

Detection and cropping are the predictor's (the model's own extract params, YuNet by
default; the detector sees a copy at most `video.detect_max_side` long); the embedding that names a face is the one that links it to its track, computed
once. A CNN classifier has no embedding: its centred crop pixels stand in (enough to keep a
track within a shot; unknown people then group less reliably across shots).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from starrec.config import VideoParams
from starrec.faces.detect import FaceCrop, cached_detector, find_faces, to_input
from starrec.faces.detectors import Detector
from starrec.faces.embed import l2_normalise
from starrec.predict.recognize import FacePrediction, Predictor
from starrec.video.flow import Box


@dataclass(frozen=True)
class Observation:
    frame: int
    box: Box
    weight: float  # the face's vote: detector score x size and sharpness terms
    embedding: np.ndarray = field(repr=False)  # unit norm
    face: FacePrediction = field(repr=False)
    det_score: float = 0.0  # the detector's
    blur_var: float = 0.0  # Laplacian variance of the crop


def quality(crop: FaceCrop, params: VideoParams) -> float:
    """Detector score scaled down for small or blurred faces (each term capped at 1)."""
    q = params.quality
    return (crop.score * min(1.0, crop.face_size / q.full_size)
            * min(1.0, crop.blur_var / q.full_sharpness))


def embed_and_score(classifier, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(embeddings, class scores) of model-ready crops, the embedder run once."""
    if hasattr(classifier, "proba_of_embeddings"):
        x = classifier.embed(batch)
        return l2_normalise(x), classifier.proba_of_embeddings(x)
    flat = batch.reshape(len(batch), -1)
    return l2_normalise(flat - flat.mean(axis=1, keepdims=True)), classifier.predict_proba(batch)


class Observer:
    """The faces of a frame, as observations (a callable the tracker is given)."""

    def __init__(self, predictor: Predictor, params: VideoParams) -> None:
        self.predictor = predictor
        self.params = params
        self.detector: Detector = predictor.detector or cached_detector(predictor.extract)
        # faces worth casting are big: the detector sees a smaller copy, crops are cut from
        # the frame itself
        self.extract = predictor.extract.model_copy(update={"detect_max_side": min(
            predictor.extract.detect_max_side, params.detect_max_side)})

    def __call__(self, rgb: np.ndarray, frame: int) -> list[Observation]:
        crops = [c for c in find_faces(rgb, self.extract, self.detector).crops
                 if c.face_size >= self.params.min_face_size]
        if not crops:
            return []
        clf = self.predictor.classifier
        x, probs = embed_and_score(clf, np.stack([to_input(c.image, clf.channels)
                                                  for c in crops]))
        return [Observation(frame, tuple(int(v) for v in c.box), quality(c, self.params), e, f,
                            float(c.score), float(c.blur_var))
                for c, e, f in zip(crops, x, self.predictor.name(probs), strict=True)]
