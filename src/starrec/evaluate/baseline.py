"""Eigenfaces baseline: PCA (whitened) + RBF SVM, the classic classifier the CNN must beat.

Trained on the same train split and scored on the same test split as the CNN, so the two
numbers in metrics.json are directly comparable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from starrec.config import EvaluateParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Eigenfaces:
    pipeline: Pipeline  # fitted: scaler → PCA → SVC
    best_params: dict[str, Any]
    cv_accuracy: float
    components: int


def fit_eigenfaces(x_train: np.ndarray, y_train: np.ndarray, cfg: EvaluateParams
                   ) -> Eigenfaces:
    """Fit scaler + whitened PCA once on the flattened train images (as the classic
    eigenfaces recipe does), then grid-search the SVM's C/gamma by stratified CV on them."""
    x = x_train.reshape(len(x_train), -1)
    components = min(cfg.baseline_components, *x.shape)
    project = make_pipeline(StandardScaler(), PCA(n_components=components, whiten=True,
                                                  svd_solver="randomized",
                                                  random_state=cfg.seed))
    z = project.fit_transform(x)
    folds = min(3, int(np.bincount(y_train)[np.unique(y_train)].min()))
    search = GridSearchCV(
        SVC(kernel="rbf", class_weight="balanced"),
        {"C": cfg.baseline_C, "gamma": cfg.baseline_gamma},
        cv=StratifiedKFold(folds, shuffle=True, random_state=cfg.seed), n_jobs=1)
    search.fit(z, y_train)
    log.info("eigenfaces: %d components, best %s (cv accuracy %.3f)", components,
             search.best_params_, search.best_score_)
    return Eigenfaces(Pipeline([*project.steps, ("svc", search.best_estimator_)]),
                      search.best_params_, float(search.best_score_), components)


def class_scores(model: Eigenfaces, x: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, n_classes) decision scores, a column for every class (unseen ones rank last)."""
    raw = model.pipeline.decision_function(x.reshape(len(x), -1))
    if raw.ndim == 1:  # binary SVC: one signed score for classes_[1]
        raw = np.stack([-raw, raw], axis=1)
    scores = np.full((len(x), n_classes), raw.min() - 1.0)
    scores[:, model.pipeline.classes_] = raw
    return scores
