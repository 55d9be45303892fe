"""The pretrained backbone beside the CNN in the evaluate report.

Fitted on the same train split the CNN and eigenfaces use: a softmax head on the frozen
backbone (multinomial logistic regression on the embeddings), and nearest prototype with
all / only `few_shot` train photos per class (what `starrec enroll` does).
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression

from starrec.config import EvaluateParams
from starrec.evaluate.metrics import classification_metrics
from starrec.faces.embed import embed, prototypes

log = logging.getLogger(__name__)


def pretrained_scores(backbone: keras.Model, x_train: np.ndarray, y_train: np.ndarray,
                      x_test: np.ndarray, shots: int, seed: int) -> dict[str, np.ndarray]:
    """Class scores (N_test, K) per method, columns in label order 0..K-1: `transfer`
    (probabilities), `prototype` and `prototype_{shots}shot` (cosine similarities).
    Every class needs at least one train face; classes with fewer than `shots` use all."""
    y_train = np.asarray(y_train)
    e_train, e_test = embed(backbone, x_train), embed(backbone, x_test)
    head = LogisticRegression(C=10.0, max_iter=5000).fit(e_train, y_train)
    rng = np.random.default_rng(seed)
    few = np.concatenate([rng.permutation(np.flatnonzero(y_train == k))[:shots]
                          for k in np.unique(y_train)])

    def prototype(idx: np.ndarray) -> np.ndarray:
        return e_test @ prototypes(e_train[idx], y_train[idx])[1].T  # sorted labels 0..K-1

    return {"transfer": head.predict_proba(e_test), "prototype": prototype(np.arange(len(y_train))),
            f"prototype_{shots}shot": prototype(few)}


def pretrained_metrics(backbone: keras.Model, x_train: np.ndarray, y_train: np.ndarray,
                       x_test: np.ndarray, y_test: np.ndarray, class_names: list[str],
                       cfg: EvaluateParams) -> dict[str, dict[str, Any]]:
    """Test metrics of the backbone used the three ways of `pretrained_scores`."""
    scores = pretrained_scores(backbone, x_train, y_train, x_test, cfg.few_shot, cfg.seed)
    metrics = {}
    for method, s in scores.items():
        metrics[method] = classification_metrics(y_test, s.argmax(axis=1), s, class_names,
                                                 cfg.top_k)
        log.info("pretrained %s: accuracy %.4f, macro F1 %.4f", method,
                 metrics[method]["accuracy"], metrics[method]["macro"]["f1"])
    return metrics
