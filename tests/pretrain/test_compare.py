"""Side-by-side pretrained classifiers for the evaluate stage: shapes and score ranges."""

from __future__ import annotations

import numpy as np

from starrec.pretrain.compare import pretrained_scores
from starrec.pretrain.train import train_backbone

from .conftest import load_arrays, tiny_params


def test_pretrained_scores_fit_train_split(public_faces, tmp_path):
    x, names = load_arrays(public_faces)
    people = np.array(sorted(set(names)))
    y = np.searchsorted(people, names)
    backbone, _ = train_backbone(tiny_params(epochs=1), x, y)
    backbone.save(tmp_path / "backbone.keras")
    test = np.arange(len(x)) % 4 == 0
    scores = pretrained_scores(tmp_path / "backbone.keras", x[~test], y[~test], x[test], shots=5)
    assert set(scores) == {"transfer", "prototype", "prototype_5shot"}
    for s in scores.values():
        assert s.shape == (test.sum(), len(people))
    np.testing.assert_allclose(scores["transfer"].sum(axis=1), 1.0, atol=1e-6)
    assert np.abs(scores["prototype"]).max() <= 1.0 + 1e-5
    assert not np.allclose(scores["prototype"], scores["prototype_5shot"])
