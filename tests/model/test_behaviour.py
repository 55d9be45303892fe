"""Behavioural tests (Made-With-ML's model tests) on a small star_cnn trained here on real
faces of 3 LFW people: its answer does not move for things that should not matter (a
horizontal flip, a small brightness change) and does move when the face is someone else's."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.models import fast_train

from starrec.train.fit import compile_model
from starrec.train.models import build_model


@pytest.fixture(scope="module")
def classify(known_splits):
    """Predicted class ids of a star_cnn trained on the train faces (flip and brightness
    varied, as the augment stage does), with the project's own model and optimiser code."""
    import keras

    keras.utils.set_random_seed(0)
    x, y = known_splits["train"]
    rng = np.random.default_rng(0)
    bright = np.clip(x + rng.uniform(-0.1, 0.1, (len(x), 1, 1, 1)), 0, 1).astype(np.float32)
    x_aug = np.concatenate([x, x[:, :, ::-1], bright])
    cfg = fast_train(model="star_cnn", epochs=12)
    model = build_model(cfg, x.shape[1:], 3)
    compile_model(model, cfg)
    model.fit(x_aug, np.concatenate([y, y, y]), epochs=cfg.epochs, batch_size=cfg.batch_size,
              shuffle=True, verbose=0)
    return lambda images: model.predict(images, verbose=0).argmax(axis=1)


@pytest.fixture(scope="module")
def test_faces(known_splits):
    return known_splits["test"]  # photos never trained on


def test_the_model_knows_the_people(classify, test_faces) -> None:
    x, y = test_faces
    assert (classify(x) == y).mean() >= 0.8


def test_answer_is_invariant_to_a_horizontal_flip(classify, test_faces) -> None:
    x, _ = test_faces
    assert (classify(x[:, :, ::-1]) == classify(x)).mean() >= 0.9


def test_answer_is_invariant_to_a_small_brightness_change(classify, test_faces) -> None:
    x, _ = test_faces
    before = classify(x)
    for delta in (-0.05, 0.05):
        assert (classify(np.clip(x + delta, 0, 1)) == before).mean() >= 0.9, delta


def test_answer_changes_when_the_face_is_another_persons(classify, test_faces) -> None:
    x, y = test_faces
    before = classify(x)
    other = np.array([np.flatnonzero(y != label)[i % (y != label).sum()]
                      for i, label in enumerate(y)])  # each face swapped for another person's
    after = classify(x[other])
    assert (after != before).mean() >= 0.7
    assert (after == y[other]).mean() >= 0.8  # and it names the new person
