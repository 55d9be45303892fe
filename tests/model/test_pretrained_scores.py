"""The backbone beside the CNN in the evaluate report: shapes and score ranges of its three
uses (logistic head, prototypes of all / few train photos)."""

from __future__ import annotations

import numpy as np
from helpers.pretrain import load_arrays, tiny_params

from starrec.evaluate.pretrained import pretrained_scores
from starrec.pretrain.train import train_backbone


def test_pretrained_scores_fit_train_split(public_faces, tmp_path):
    x, names = load_arrays(public_faces)
    people = np.array(sorted(set(names)))
    y = np.searchsorted(people, names)
    backbone, _ = train_backbone(tiny_params(epochs=1), x, y, tmp_path / "ckpt")
    test = np.arange(len(x)) % 4 == 0
    scores = pretrained_scores(backbone, x[~test], y[~test], x[test], shots=5, seed=42)
    assert set(scores) == {"transfer", "prototype", "prototype_5shot"}
    for s in scores.values():
        assert s.shape == (test.sum(), len(people))
    np.testing.assert_allclose(scores["transfer"].sum(axis=1), 1.0, atol=1e-6)
    assert np.abs(scores["prototype"]).max() <= 1.0 + 1e-5
    assert not np.allclose(scores["prototype"], scores["prototype_5shot"])
