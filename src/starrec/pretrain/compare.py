"""Pretrained-backbone classifiers for the evaluate stage's side-by-side report.

Both are fitted on the same train split the CNN and eigenfaces use: a softmax head on the
frozen backbone (multinomial logistic regression on the embeddings), and nearest prototype
with all / only `shots` train photos per class (what `starrec enroll` does).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from starrec.enroll.gallery import Gallery
from starrec.pretrain.backbone import embed


def pretrained_scores(backbone_path: str | Path, x_train: np.ndarray, y_train: np.ndarray,
                      x_test: np.ndarray, shots: int = 5, seed: int = 42) -> dict[str, np.ndarray]:
    """Class scores (N_test, K) per method, columns in label order 0..K-1: `transfer`
    (probabilities), `prototype` and `prototype_{shots}shot` (cosine similarities).
    Every class needs at least one train face; classes with fewer than `shots` use all."""
    import keras

    backbone = keras.saving.load_model(backbone_path, compile=False)
    y_train = np.asarray(y_train)
    e_train, e_test = embed(backbone, x_train), embed(backbone, x_test)
    head = LogisticRegression(C=10.0, max_iter=5000).fit(e_train, y_train)
    rng = np.random.default_rng(seed)
    few = np.concatenate([rng.permutation(np.flatnonzero(y_train == k))[:shots]
                          for k in np.unique(y_train)])

    def prototype(idx: np.ndarray) -> np.ndarray:
        g = Gallery(e_train[idx], [int(k) for k in y_train[idx]], [""] * len(idx))
        return e_test @ g.prototypes().T  # g.classes are the sorted int labels

    return {"transfer": head.predict_proba(e_test), "prototype": prototype(np.arange(len(y_train))),
            f"prototype_{shots}shot": prototype(few)}
