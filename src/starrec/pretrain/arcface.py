"""Additive angular margin (ArcFace, Deng et al. 2019) classification head for training.

Logits are s·cos(θ_j) for other classes and s·cos(θ_y + m) for the true class, with θ the
angle between the unit embedding and a unit class centre. Only used while pretraining: the
saved backbone stops at the embedding.
"""

from __future__ import annotations

import math

import keras
from keras import ops


class ArcMarginHead(keras.layers.Layer):
    """Inputs `[embeddings (B, D) unit-norm, labels (B,) int]` → margin logits (B, classes).

    `scale` and `margin` are ArcFace's s and m (`pretrain.arc_scale`, `pretrain.arc_margin`)."""

    def __init__(self, n_classes: int, scale: float, margin: float, **kwargs):
        super().__init__(**kwargs)
        self.n_classes, self.scale, self.margin = n_classes, scale, margin

    def build(self, input_shape):
        dim = int(input_shape[0][-1])
        self.centres = self.add_weight(shape=(dim, self.n_classes), name="centres",
                                       initializer="glorot_uniform")

    def call(self, inputs):
        emb, labels = inputs
        cos = ops.matmul(emb, ops.normalize(self.centres, axis=0))
        cos = ops.clip(cos, -1.0 + 1e-7, 1.0 - 1e-7)
        m = self.margin
        cos_m = cos * math.cos(m) - ops.sqrt(1.0 - cos * cos) * math.sin(m)
        # past θ = π - m, cos(θ + m) is no longer decreasing in θ: use a linear penalty instead
        cos_m = ops.where(cos > math.cos(math.pi - m), cos_m, cos - math.sin(math.pi - m) * m)
        onehot = ops.one_hot(ops.cast(ops.reshape(labels, (-1,)), "int32"), self.n_classes)
        return self.scale * (onehot * cos_m + (1.0 - onehot) * cos)

    def get_config(self):
        return {**super().get_config(), "n_classes": self.n_classes, "scale": self.scale,
                "margin": self.margin}
