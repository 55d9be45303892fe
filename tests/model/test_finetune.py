"""Model finetune on a few dozen real faces: one epoch with SFace frozen, one with its top
blocks unfrozen; it learns (loss down, val accuracy above chance), leaves the frozen blocks
as they were, and the saved model loads, predicts the same and gives up its embedder."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
from helpers.faces import make_faces_dir, split_table
from helpers.params import section
from helpers.stages import tfrecords_of

from starrec.config import Config
from starrec.dataset.tfrecords import list_shards, make_dataset
from starrec.faces.artifacts import model_file
from starrec.faces.sface_keras import load_sface
from starrec.io import save_keras
from starrec.train.finetune import embedder_of, finetune

PEOPLE = {"Colin_Powell": 16, "Tony_Blair": 16, "Hugo_Chavez": 16}


@pytest.fixture(scope="module")
def crops(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> Path:
    """TFRecords of 48 LFW faces, 112x112 RGB: half train, a quarter val, a quarter test."""
    faces = make_faces_dir(tmp_path_factory.mktemp("faces112"), shared_datasets / "lfw-subset",
                           PEOPLE, image_size=112, channels=3)
    table = split_table(faces, lambda rank, n: ("train", "val", "train", "test")[rank % 4])
    return tfrecords_of(faces, table, tmp_path_factory.mktemp("tfr112"), shard_size=50)


@pytest.fixture(scope="module")
def trained(crops: Path, cfg: Config, tmp_path_factory: pytest.TempPathFactory):
    t = section("train", model="finetune", use_augmented=False, batch_size=8)
    sface = model_file("sface", cfg.faces.models, None)
    return finetune(t, crops, None, sface, tmp_path_factory.mktemp("ckpt")), sface


def test_it_learns_the_stars(trained) -> None:
    run, _ = trained
    h = run.history
    assert list(h["epoch"]) == [1, 2]
    assert h["loss"].iloc[-1] < h["loss"].iloc[0]
    assert h["val_accuracy"].iloc[-1] > 1 / len(PEOPLE) + 0.2


def test_only_the_top_blocks_changed(trained) -> None:
    run, sface_file = trained
    before, after = load_sface(sface_file), embedder_of(run.model)
    for name, changed in [("conv_1_conv2d", False), ("conv_12_conv2d", False),
                          ("conv_14_conv2d", True), ("pre_fc1", True)]:
        same = np.array_equal(before.get_layer(name).get_weights()[0],
                              after.get_layer(name).get_weights()[0])
        assert same != changed, name


def test_the_saved_model_loads_predicts_and_gives_its_embedder(trained, crops: Path,
                                                               tmp_path: Path) -> None:
    run, _ = trained
    save_keras(run.model, tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras", compile=False)
    images = next(iter(make_dataset(list_shards(crops, "test"), batch_size=64)))[0].numpy()
    probs = loaded.predict(images, verbose=0)
    assert probs.shape == (len(images), len(PEOPLE))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert np.allclose(probs, run.model.predict(images, verbose=0), atol=1e-5)
    vectors = embedder_of(loaded).predict(images * 255.0, verbose=0)
    assert vectors.shape == (len(images), 128)
