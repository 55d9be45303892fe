"""Eigenfaces baseline: PCA (whitened) + RBF SVM, the classic classifier the CNN must beat.

Trained on the same train split and scored on the same test split as the CNN, so the two
numbers in metrics.json are directly comparable.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from starrec.config import EvaluateParams

log = logging.getLogger(__name__)


def fit_eigenfaces(x_train: np.ndarray, y_train: np.ndarray, cfg: EvaluateParams
                   ) -> GridSearchCV:
    """Grid-search C/gamma of scaler → PCA → SVC on flattened train images (3-fold CV)."""
    x = x_train.reshape(len(x_train), -1)
    folds = min(3, int(np.bincount(y_train).min()))
    fold_train = len(x) - -(-len(x) // folds)  # smallest CV training fold
    components = min(cfg.baseline_components, x.shape[1], fold_train)
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("pca", PCA(n_components=components, whiten=True, svd_solver="randomized",
                    random_state=cfg.seed)),
        ("svm", SVC(kernel="rbf", class_weight="balanced")),
    ])
    search = GridSearchCV(
        pipe, {"svm__C": cfg.baseline_C, "svm__gamma": cfg.baseline_gamma},
        cv=StratifiedKFold(folds, shuffle=True, random_state=cfg.seed), n_jobs=1)
    search.fit(x, y_train)
    log.info("eigenfaces: %d components, best %s (cv accuracy %.3f)", components,
             search.best_params_, search.best_score_)
    return search


def class_scores(model: GridSearchCV, x: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, n_classes) decision scores, a column for every class (unseen ones rank last)."""
    raw = model.decision_function(x.reshape(len(x), -1))
    if raw.ndim == 1:  # binary SVC: one signed score for classes_[1]
        raw = np.stack([-raw, raw], axis=1)
    scores = np.full((len(x), n_classes), raw.min() - 1.0)
    scores[:, model.classes_] = raw
    return scores
