"""Face verification on held-out identities: is this pair the same person?

Pairs come only from people the backbone never trained on, so the figures say how well the
embedding generalises to new faces — what enrolling a new star relies on.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def make_pairs(labels: np.ndarray, n_pairs: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to `n_pairs` same-person and as many different-person index pairs (seeded);
    returns (pairs (M, 2), same (M,) bool)."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    i, j = np.triu_indices(len(labels), k=1)
    same = labels[i] == labels[j]
    pos, neg = np.flatnonzero(same), np.flatnonzero(~same)
    if not len(pos) or not len(neg):
        raise ValueError("verification needs two photos of one person and two different people")
    n = min(n_pairs, len(pos), len(neg))
    pick = np.r_[rng.choice(pos, n, replace=False), rng.choice(neg, n, replace=False)]
    return np.stack([i[pick], j[pick]], axis=1), same[pick]


def verification(embeddings: np.ndarray, labels: np.ndarray, n_pairs: int,
                 seed: int) -> dict[str, float]:
    """ROC AUC of cosine similarity on same/different pairs, and the accuracy at the
    threshold that maximises it."""
    pairs, same = make_pairs(labels, n_pairs, seed)
    scores = np.sum(embeddings[pairs[:, 0]] * embeddings[pairs[:, 1]], axis=1)
    fpr, tpr, thresholds = roc_curve(same, scores)
    n_pos, n_neg = same.sum(), (~same).sum()
    acc = (tpr * n_pos + (1 - fpr) * n_neg) / (n_pos + n_neg)
    best = int(np.argmax(acc))
    return {"roc_auc": float(roc_auc_score(same, scores)), "accuracy": float(acc[best]),
            "threshold": float(min(thresholds[best], 1.0)), "pairs_same": int(n_pos),
            "pairs_different": int(n_neg),
            "mean_same": float(scores[same].mean()), "mean_different": float(scores[~same].mean())}
