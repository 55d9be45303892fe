"""The Keras embedding head on real SFace embeddings of LFW-7: it learns the stars, saves and
reloads as .keras with the same outputs, and the same seed gives the same model."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import yaml

from starrec.config import Config, ConfigError, load_config
from starrec.train.embedding_head import build_embedding_head, fit_embedding_head


@pytest.fixture(scope="module")
def lfw7(lfw_sface, lfw_stars):
    """LFW-7 (the 7 people with >= 70 photos), 40 photos each: the first 25 train, 15 val."""
    stars = lfw_stars[:7]
    emb = lfw_sface.of(stars)
    y = np.array([stars.index(who) for who in emb.people])
    train = (pd.Series(emb.people).groupby(emb.people).cumcount() < 25).to_numpy()
    return emb.x[train], y[train], emb.x[~train], y[~train]


@pytest.fixture(scope="module")
def fitted(lfw7, cfg: Config):
    return fit_embedding_head(*lfw7, cfg.train.embedding_head, seed=0)


def test_head_names_lfw7_stars(fitted, lfw7, cfg: Config) -> None:
    """Measured: val accuracy 1.0 (105 faces) after epoch 3 of 60."""
    model, history = fitted
    _, _, x_val, y_val = lfw7
    assert (model.predict(x_val, verbose=0).argmax(axis=1) == y_val).mean() >= 0.95
    assert list(history["epoch"]) == list(range(1, cfg.train.embedding_head.epochs + 1))
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(history.columns)
    assert history["val_accuracy"].iloc[-1] >= 0.95
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]


def test_saved_head_reloads_with_the_same_outputs(fitted, lfw7, tmp_path: Path) -> None:
    model, _ = fitted
    x_val = lfw7[2]
    model.save(tmp_path / "head.keras")
    again = keras.saving.load_model(tmp_path / "head.keras")
    np.testing.assert_allclose(again.predict(x_val, verbose=0), model.predict(x_val, verbose=0),
                               atol=1e-6)


def test_same_seed_same_model(lfw7, cfg: Config) -> None:
    params = cfg.train.embedding_head.model_copy(update={"epochs": 3})
    first, second, other = (fit_embedding_head(*lfw7, params, seed)[0] for seed in (0, 0, 1))
    x_val = lfw7[2]
    assert np.array_equal(first.predict(x_val, verbose=0), second.predict(x_val, verbose=0))
    assert not np.allclose(first.predict(x_val, verbose=0), other.predict(x_val, verbose=0))


def test_head_sees_unit_vectors_whatever_the_scale(cfg: Config, lfw7) -> None:
    """The head normalises its input, so an embedder's raw scale cannot shift its outputs;
    a hidden layer is there only when asked for."""
    x = lfw7[0][:5]
    flat = build_embedding_head(128, 7, cfg.train.embedding_head)
    deep = build_embedding_head(128, 7, cfg.train.embedding_head.model_copy(update={"hidden": 16}))
    np.testing.assert_allclose(flat.predict(3 * x, verbose=0), flat.predict(x, verbose=0),
                               atol=1e-6)
    np.testing.assert_allclose(flat.predict(x, verbose=0).sum(axis=1), 1.0, atol=1e-5)
    assert "hidden" not in [layer.name for layer in flat.layers]
    assert deep.get_layer("hidden").units == 16


def test_a_class_without_train_faces_is_refused(lfw7, cfg: Config) -> None:
    x_train, y_train, x_val, y_val = lfw7
    keep = y_train != 3
    with pytest.raises(ValueError, match=r"embedding head: labels \[3\] have no train face"):
        fit_embedding_head(x_train[keep], y_train[keep], x_val, y_val,
                           cfg.train.embedding_head, 0)


@pytest.mark.parametrize(("edit", "error"), [
    (lambda h: h.pop("epochs"), r"train\.embedding_head\.epochs: Field required"),
    (lambda h: h.update(dropout=1.0),
     r"train\.embedding_head\.dropout: Input should be less than 1"),
    (lambda h: h.update(hidden=-1),
     r"train\.embedding_head\.hidden: Input should be greater than or equal to 0"),
])
def test_head_params_are_required_and_checked(repo_root: Path, tmp_path: Path, edit,
                                              error: str) -> None:
    raw = yaml.safe_load((repo_root / "params.yaml").read_text())
    edit(raw["train"]["embedding_head"])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(ConfigError, match=error):
        load_config(tmp_path / "params.yaml")
