"""Class scores of faces by any starrec classifier, as the calibrate stage needs them: of
the data set's splits (a head on embeddings scores the embed stage's vectors, a CNN the
TFRecord images) and of held-out people's face crops (with their embeddings: the impostor
bank `starrec enroll` calibrates its threshold with)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from starrec.artifacts import embeddings_file
from starrec.calibrate.openset import relabel
from starrec.dataset.tfrecords import load_split, read_label_map
from starrec.errors import StageError
from starrec.predict.classifier import Classifier
from starrec.predict.model_io import EmbeddingClassifier
from starrec.train.embedding_data import EmbeddingDataError, load_embedding_data


def unknown_scores(classifier: Classifier, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Class scores of the held-out people's faces, and their embeddings (empty for a CNN
    on crops)."""
    if isinstance(classifier, EmbeddingClassifier):
        x = classifier.embed(images)
        return classifier.proba_of_embeddings(x), x
    probs = (classifier.predict_proba(images) if len(images)
             else np.empty((0, len(classifier.classes))))
    return probs, np.zeros((0, 0), np.float32)


def split_probs(classifier: Classifier, splits: tuple[str, ...], split_csv: Path,
                embeddings: Path, tfrecords: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Class scores and labels (in the classifier's class order) of each split: from the
    `<embedder>.npz` in `embeddings` joined with `split_csv` for a head on embeddings, from
    the `tfrecords` images for a CNN."""
    if isinstance(classifier, EmbeddingClassifier):
        npz = embeddings / embeddings_file(classifier.embedder.name)
        try:
            data = load_embedding_data(split_csv, npz)
            return [(classifier.proba_of_embeddings(data.x[split]),
                     relabel(data.y[split], data.classes, classifier.classes, npz))
                    for split in splits]
        except (OSError, EmbeddingDataError, ValueError) as exc:
            raise StageError(f"{npz}: cannot read the {'/'.join(splits)} splits ({exc})") from exc
    try:
        names = read_label_map(tfrecords)
        out = []
        for split in splits:
            images, labels = load_split(tfrecords, split)
            out.append((classifier.predict_proba(images),
                        relabel(labels, names, classifier.classes, tfrecords)))
        return out
    except (OSError, KeyError, ValueError) as exc:
        raise StageError(f"{tfrecords}: cannot read the {'/'.join(splits)} splits ({exc})"
                         ) from exc
