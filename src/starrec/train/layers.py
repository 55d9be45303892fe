"""Local response normalisation (the original exercise's `norm1`/`norm2`) as a Keras layer.

A model using it (star_cnn with batch_norm: false) needs this module imported before
`keras.saving.load_model`; every other model is built from Keras' own layers only.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="starrec")
class LocalResponseNorm(keras.layers.Layer):
    """tf.nn.local_response_normalization with the cifar10 tutorial's constants."""

    def __init__(self, depth_radius: int = 4, bias: float = 1.0, alpha: float = 0.001 / 9.0,
                 beta: float = 0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius, self.bias, self.alpha, self.beta = depth_radius, bias, alpha, beta

    def call(self, inputs):
        x = tf.cast(inputs, tf.float32)  # LRN has no float16 kernel
        y = tf.nn.local_response_normalization(x, self.depth_radius, self.bias, self.alpha,
                                               self.beta)
        return tf.cast(y, inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "depth_radius": self.depth_radius, "bias": self.bias,
                "alpha": self.alpha, "beta": self.beta}
