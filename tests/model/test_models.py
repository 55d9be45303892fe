"""Each model family builds, trains a step, and saves/loads; transfer pixel mapping is right."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers.params import section

from starrec.config import TrainParams
from starrec.train.fit import compile_model
from starrec.train.models import build_model, load_backbone, pixel_layer

RNG = np.random.default_rng(0)
X = RNG.random((8, 32, 32, 1), dtype=np.float32)
Y = np.arange(8) % 3


def one_step(model: keras.Model, cfg: TrainParams) -> None:
    compile_model(model, cfg)
    before = [w.copy() for w in model.get_weights()]
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    probs = model.predict(X, verbose=0)
    assert probs.shape == (8, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("cfg", [
    section("train", model="fcn"),
    section("train", model="star_cnn", batch_norm=True),
    section("train", model="star_cnn", batch_norm=False, optimizer={"name": "momentum"}),
    section("train", model="transfer", dropout=0.0, transfer=dict(backbone="MobileNetV2",
                                                                  weights="none")),
], ids=["fcn", "star_cnn-bn", "star_cnn-lrn", "transfer-none"])
def test_model_builds_trains_and_reloads(cfg, tmp_path) -> None:
    model = build_model(cfg, (32, 32, 1), 3)
    one_step(model, cfg)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(X, verbose=0), model.predict(X, verbose=0),
                               atol=1e-6)


def test_transfer_from_weights_file_frozen_or_top_layers(tmp_path) -> None:
    cfg = section("train", model="transfer", transfer=dict(weights="none"))
    donor = build_model(cfg, (32, 32, 1), 3).get_layer("mobilenetv2_1.00_32")
    donor.save_weights(tmp_path / "backbone.weights.h5")
    frozen = section("train", model="transfer", transfer=dict(
        weights=str(tmp_path / "backbone.weights.h5")))
    model = build_model(frozen, (32, 32, 1), 3)
    backbone = model.get_layer("mobilenetv2_1.00_32")
    for got, want in zip(backbone.get_weights(), donor.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert not backbone.trainable_weights  # frozen feature extractor: only the head trains
    one_step(model, frozen)
    for got, want in zip(backbone.get_weights(), donor.get_weights()):
        np.testing.assert_array_equal(got, want)

    tuned = section("train", model="transfer", transfer=dict(
        weights=str(tmp_path / "backbone.weights.h5"), fine_tune_layers=5))
    backbone = build_model(tuned, (32, 32, 1), 3).get_layer("mobilenetv2_1.00_32")
    trainable = [layer.name for layer in backbone.layers if layer.trainable_weights]
    assert trainable and set(trainable) <= {layer.name for layer in backbone.layers[-5:]}


def test_transfer_errors_are_clear(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no such weights file"):
        build_model(section("train", model="transfer", transfer=dict(
            weights=str(tmp_path / "missing.h5"))), (32, 32, 1), 3)
    with pytest.raises(FileNotFoundError, match="backbone.keras: backbone not found"):
        load_backbone(tmp_path / "backbone.keras", (32, 32, 1))
    with pytest.raises(ValueError, match="no backbone given"):
        build_model(section("train", model="transfer", transfer=dict(weights="pretrained")),
                    (32, 32, 1), 3)
    with pytest.raises(ValueError, match="not in keras.applications"):
        build_model(section("train", model="transfer", transfer=dict(backbone="NoSuchNet")),
                    (32, 32, 1), 3)


def test_transfer_from_pretrained_backbone(tmp_path) -> None:
    inputs = keras.Input((32, 32, 1))
    backbone = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Flatten()(inputs)),
                           name="face_backbone")
    backbone.save(tmp_path / "backbone.keras")
    cfg = section("train", model="transfer", transfer=dict(weights="pretrained"))
    model = build_model(cfg, (32, 32, 1), 3, load_backbone(tmp_path / "backbone.keras", (32, 32, 1)))
    assert not model.get_layer("face_backbone").trainable_weights
    one_step(model, cfg)


@pytest.mark.parametrize(("family", "mode"), [
    ("mobilenet_v2", "tf"), ("densenet", "torch"), ("vgg16", "caffe")])
def test_pixel_layer_matches_keras_preprocess_input(family, mode) -> None:
    import importlib

    preprocess = importlib.import_module(f"keras.applications.{family}").preprocess_input
    rgb = RNG.random((2, 4, 4, 3), dtype=np.float32)
    np.testing.assert_allclose(np.asarray(pixel_layer(mode, 3)(rgb)),
                               preprocess(rgb * 255.0), rtol=1e-4, atol=1e-3)
    gray = rgb[..., :1]
    np.testing.assert_allclose(np.asarray(pixel_layer(mode, 1)(gray)),
                               preprocess(np.repeat(gray, 3, -1) * 255.0), rtol=1e-4, atol=1e-3)


def test_mixed_precision_output_is_float32() -> None:
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(section("train", model="star_cnn"), (32, 32, 1), 3)
        assert model.get_layer("conv1").compute_dtype == "float16"
        assert model.output.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("model", ["fcn", "star_cnn"])
def test_batch_norm_switches_the_dense_layers_too(model) -> None:
    def norms(batch_norm: bool) -> list[str]:
        built = build_model(section("train", model=model, batch_norm=batch_norm), (32, 32, 1), 3)
        return [layer.name for layer in built.layers
                if isinstance(layer, keras.layers.BatchNormalization)]

    dense = {"fcn": ["fc1_norm", "fc2_norm"], "star_cnn": ["local3_norm", "local4_norm"]}[model]
    assert set(dense) <= set(norms(True))
    assert not norms(False)
