"""The optimizers a model can be trained with, by name (train.optimizer, the embedding head)."""

from __future__ import annotations

import keras

OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adam", "rmsprop")


def make_optimizer(name: str, learning_rate: float, momentum: float
                   ) -> keras.optimizers.Optimizer:
    """sgd | momentum (SGD with `momentum`) | adam | rmsprop at `learning_rate`."""
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate)
    if name == "momentum":
        return keras.optimizers.SGD(learning_rate, momentum=momentum)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    raise ValueError(f"unknown optimizer {name!r} (one of {', '.join(OPTIMIZERS)})")
