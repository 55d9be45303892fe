"""`model: embedding_head`: a small softmax classifier on pretrained face embeddings.

The embedder (SFace, dlib) was trained on millions of faces, so the stars are told apart by a
linear (or one-hidden-layer) head on its vectors: it trains in seconds on a CPU and needs no
image augmentation. The head re-normalises its input, so it is fed exactly what prototype
matching sees (unit vectors) whichever embedder made them.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import pandas as pd
from sklearn.utils.class_weight import compute_class_weight

from starrec.config import EmbeddingHeadParams
from starrec.train.optimizers import make_optimizer

log = logging.getLogger(__name__)


def build_embedding_head(dim: int, n_classes: int, params: EmbeddingHeadParams) -> keras.Model:
    """Unit-normalised embedding -> [Dense(hidden, ReLU)] -> dropout -> softmax, L2 on every
    kernel."""
    reg = keras.regularizers.L2(params.l2)
    inputs = keras.Input((dim,), name="embedding")
    x = keras.layers.UnitNormalization(name="unit_norm")(inputs)
    if params.hidden:
        x = keras.layers.Dense(params.hidden, activation="relu", kernel_regularizer=reg,
                               name="hidden")(x)
    x = keras.layers.Dropout(params.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", kernel_regularizer=reg,
                                 name="probs")(x)
    return keras.Model(inputs, outputs, name="embedding_head")


def fit_embedding_head(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray | None,
                       y_val: np.ndarray | None, params: EmbeddingHeadParams, seed: int
                       ) -> tuple[keras.Model, pd.DataFrame]:
    """Fit a head on (x_train, y_train: labels 0..K-1, each in train), classes weighted
    inversely to their counts; the same seed gives the same weights. The val split is only
    scored (no early stopping), so it can be left out (None). Returns the model after the
    last epoch and its history: epoch (from 1), loss, accuracy[, val_loss, val_accuracy]."""
    y_train = np.asarray(y_train, np.int64)
    y_val = None if y_val is None else np.asarray(y_val, np.int64)
    classes = np.unique(y_train)
    top = y_train.max() if y_val is None else max(y_train.max(), y_val.max(initial=0))
    n_classes = int(top) + 1
    if len(classes) != n_classes:
        absent = sorted(set(range(n_classes)) - set(classes.tolist()))
        raise ValueError(f"embedding head: labels {absent} have no train face (labels must "
                         f"be 0..{n_classes - 1}, each in train)")
    keras.utils.set_random_seed(seed)
    model = build_embedding_head(x_train.shape[1], n_classes, params)
    model.compile(optimizer=make_optimizer(params.optimizer, params.learning_rate,
                                           params.momentum),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    weights = compute_class_weight("balanced", classes=classes, y=y_train)
    val = None if x_val is None else (np.asarray(x_val, np.float32), y_val)
    fit = model.fit(np.asarray(x_train, np.float32), y_train, validation_data=val,
                    epochs=params.epochs, batch_size=params.batch_size,
                    class_weight=dict(enumerate(weights)), shuffle=True, verbose=0)
    history = pd.DataFrame(fit.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    last = history.iloc[-1]
    log.info("embedding head: %d classes, %d train faces, %d epochs: %s", n_classes,
             len(y_train), len(history),
             ", ".join(f"{k} {v:.3f}" for k, v in last.items() if k != "epoch"))
    return model, history
