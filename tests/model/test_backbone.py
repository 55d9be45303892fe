"""The backbone trains on real faces, gives unit-norm embeddings, and separates people."""

from __future__ import annotations

import numpy as np
from helpers.faces import make_faces_dir
from helpers.pretrain import NO_AUGMENT, load_arrays, tiny_params

from starrec.faces.embed import embed
from starrec.pretrain.backbone import build_backbone
from starrec.pretrain.train import train_backbone
from starrec.pretrain.verify import verification


def test_backbone_trains_and_embeddings_are_unit_norm(public_faces, tmp_path):
    x, names = load_arrays(public_faces)
    people = sorted(set(names))
    ids = np.searchsorted(np.array(people), names)
    backbone, fit = train_backbone(tiny_params(epochs=3), x, ids, tmp_path / "ckpt")
    loss = fit["history"]["loss"]
    assert loss[-1] < loss[0]
    assert set(fit["history"]) == {"loss", "accuracy", "lr"}  # no validation: no val_* curves
    e = embed(backbone, x[:20])
    assert e.shape == (20, 32)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-4)
    # mirror averaging: a face and its mirror image get the same embedding; without it not
    np.testing.assert_allclose(embed(backbone, x[:20, :, ::-1]), e, atol=1e-5)
    plain = embed(backbone, x[:20], mirror=False)
    np.testing.assert_allclose(np.linalg.norm(plain, axis=1), 1.0, atol=1e-4)
    assert np.abs(embed(backbone, x[:20, :, ::-1], mirror=False) - plain).max() > 1e-3


def test_untrained_backbone_output_shape_follows_params(public_faces):
    x, _ = load_arrays(public_faces)
    model = build_backbone(x.shape[1:], tiny_params(embedding_dim=8, widths=[4]))
    assert model.output_shape == (None, 8)


def test_same_person_pairs_score_higher_after_short_training(tmp_path, shared_datasets):
    """Train on 40 photos of each of 4 people; their 10 unseen photos each then match each
    other better than photos of different people."""
    faces = make_faces_dir(tmp_path / "faces", shared_datasets / "lfw-subset",
                           {p: 50 for p in ("Colin_Powell", "Tony_Blair", "George_W_Bush",
                                            "Gerhard_Schroeder")})
    x, names = load_arrays(faces)
    rank = np.array([np.sum(names[:i] == n) for i, n in enumerate(names)])
    seen = rank < 40
    people = np.array(sorted(set(names)))
    cfg = tiny_params(epochs=15, augment=NO_AUGMENT)
    backbone, _ = train_backbone(cfg, x[seen], np.searchsorted(people, names[seen]),
                                 tmp_path / "ckpt")
    v = verification(embed(backbone, x[~seen]), names[~seen], n_pairs=500, seed=0)
    assert v["mean_same"] > v["mean_different"] + 0.1
    assert v["roc_auc"] > 0.6
