"""The training loop on tiny real TFRecords: the loss falls, a killed run resumes (or
restarts when the model changed), class weights balance the classes."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from helpers.models import fast_train as fast_params

from starrec.errors import StageError
from starrec.train.data import load_data
from starrec.train.devices import setup_devices
from starrec.train.fit import compile_model, fit_model
from starrec.train.models import build_model


def test_two_epochs_lower_the_loss(tfrecord_dir, tmp_path) -> None:
    cfg = fast_params(model="fcn", schedule={"name": "constant"}, dropout=0.0,
                      optimizer={"name": "adam", "learning_rate": 1e-3})
    setup_devices(cfg)
    data = load_data(cfg, tfrecord_dir, None)
    assert data.input_shape == (32, 32, 1) and data.classes == sorted(data.classes)
    model = build_model(cfg, data.input_shape, len(data.classes))
    compile_model(model, cfg)
    before = model.evaluate(data.train, verbose=0)[0]
    history = fit_model(model, cfg, data, tmp_path / "ckpt")
    after = model.evaluate(data.train, verbose=0)[0]
    assert after < before
    assert list(history.columns) == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert history["epoch"].tolist() == [1, 2]
    assert history["lr"].tolist() == pytest.approx([1e-3, 1e-3])
    assert not (tmp_path / "ckpt").exists()  # checkpoints removed on success


class _KilledAfterFirstEpoch(keras.callbacks.Callback):
    """Stands in for a kill: the epoch's checkpoint is written, then training stops dead."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def _killed_run(cfg, data, checkpoints) -> None:
    model = build_model(cfg, data.input_shape, len(data.classes))
    compile_model(model, cfg)
    with pytest.raises(KeyboardInterrupt):
        fit_model(model, cfg, data, checkpoints, callbacks=[_KilledAfterFirstEpoch()])
    assert (checkpoints / "backup").is_dir()


@pytest.mark.parametrize("changed", [False, True], ids=["same-model", "model-changed"])
def test_killed_run_resumes_or_restarts_when_the_model_changed(changed, tfrecord_dir, tmp_path,
                                                               caplog) -> None:
    cfg = fast_params(model="fcn", epochs=3)
    data = load_data(cfg, tfrecord_dir, None)
    checkpoints = tmp_path / "ckpt"
    _killed_run(cfg, data, checkpoints)

    again = cfg.model_copy(update={"batch_norm": not cfg.batch_norm}) if changed else cfg
    model = build_model(again, data.input_shape, len(data.classes))
    compile_model(model, again)
    seen = []
    seen_epochs = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, _: seen.append(e))
    with caplog.at_level("INFO", logger="starrec"):
        history = fit_model(model, again, data, checkpoints, callbacks=[seen_epochs])
    if changed:  # other variables: the old checkpoint cannot load, so training starts over
        assert "discarded, training from the start" in caplog.text
        assert seen == [0, 1, 2] and history["epoch"].tolist() == [1, 2, 3]
    else:
        assert "resuming an interrupted run" in caplog.text and "discarded" not in caplog.text
        assert seen == [1, 2] and history["epoch"].tolist() == [1, 2, 3]
    assert not checkpoints.exists()


def test_class_weights_balance_the_train_classes(tfrecord_dir, augmented_dir) -> None:
    data = load_data(fast_params(use_augmented=True), tfrecord_dir, augmented_dir)
    assert data.sizes["train_aug"] == data.sizes["train"]  # one augmented copy each
    counts = {0: 0, 1: 0, 2: 0}
    for _, y in data.train:
        for label in y.numpy():
            counts[int(label)] += 1
    assert sum(counts.values()) == data.sizes["train"] + data.sizes["train_aug"]
    weighted = {c: counts[c] * data.class_weight[c] for c in counts}
    assert np.ptp(list(weighted.values())) < 1e-6 * max(weighted.values())
    assert load_data(fast_params(class_weights=False), tfrecord_dir, None).class_weight is None


def test_missing_augmented_shards_is_a_clear_error(tfrecord_dir, tmp_path) -> None:
    with pytest.raises(StageError, match="no augmented shards"):
        load_data(fast_params(use_augmented=True), tfrecord_dir, tmp_path)
