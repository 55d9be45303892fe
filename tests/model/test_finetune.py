"""Model finetune on a few dozen real faces: one epoch with SFace frozen, one with its top
blocks unfrozen; it learns (loss down, val accuracy above chance), leaves the frozen blocks
as they were, and the saved model loads, predicts the same and gives up its embedder."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from helpers.params import section

from starrec.config import Config
from starrec.dataset.tfrecords import list_shards, make_dataset
from starrec.faces.model_files import model_file
from starrec.faces.sface_keras import load_sface
from starrec.io import save_keras
from starrec.train.finetune import degrader, embedder_of, finetune

PEOPLE = 3  # in `aligned_tfrecords`


@pytest.fixture(scope="module")
def trained(aligned_tfrecords: Path, cfg: Config, tmp_path_factory: pytest.TempPathFactory):
    t = section("train", model="finetune", use_augmented=False, batch_size=8)
    sface = model_file("sface", cfg.faces.models, None)
    return finetune(t, aligned_tfrecords, None, sface, tmp_path_factory.mktemp("ckpt")), sface


def test_it_learns_the_stars(trained) -> None:
    run, _ = trained
    h = run.history
    assert list(h["epoch"]) == [1, 2]
    assert h["loss"].iloc[-1] < h["loss"].iloc[0]
    assert h["val_accuracy"].iloc[-1] > 1 / PEOPLE + 0.2


def test_only_the_top_blocks_changed(trained) -> None:
    run, sface_file = trained
    before, after = load_sface(sface_file), embedder_of(run.model)
    for name, changed in [("conv_1_conv2d", False), ("conv_12_conv2d", False),
                          ("conv_14_conv2d", True), ("pre_fc1", True)]:
        same = np.array_equal(before.get_layer(name).get_weights()[0],
                              after.get_layer(name).get_weights()[0])
        assert same != changed, name


def test_the_saved_model_loads_predicts_and_gives_its_embedder(
        trained, aligned_tfrecords: Path, tmp_path: Path) -> None:
    run, _ = trained
    save_keras(run.model, tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")  # no loss to find: not compiled
    images = next(iter(make_dataset(list_shards(aligned_tfrecords, "test"),
                                    batch_size=64)))[0].numpy()
    probs = loaded.predict(images, verbose=0)
    assert probs.shape == (len(images), PEOPLE)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(probs, run.model.predict(images, verbose=0), atol=1e-5)
    vectors = embedder_of(loaded).predict(images * 255.0, verbose=0)
    assert vectors.shape == (len(images), 128)


def test_the_online_degradation_is_seeded_by_the_batch(aligned_tfrecords: Path) -> None:
    """The same batch gets the same degradations whichever tf.data call runs it; another
    seed, other ones."""
    import tensorflow as tf

    images = next(iter(make_dataset(list_shards(aligned_tfrecords, "train"), batch_size=16)))[0]
    cfg = section("train").finetune.degrade
    a, b = (degrader(cfg, 1)(images).numpy() for _ in range(2))
    assert a.shape == images.shape and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, images.numpy())
    assert not np.array_equal(a, degrader(cfg, 2)(images).numpy())
    assert tf.reduce_min(a) >= 0.0 and tf.reduce_max(a) <= 1.0
