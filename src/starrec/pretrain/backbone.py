"""The embedding network: face crop in, L2-normalised embedding out.

Unit-norm output makes cosine similarity a plain dot product, which is what the ArcFace
head trains and what verification and prototype (few-shot) classification compare.
"""

from __future__ import annotations

import keras

from starrec.config import PretrainParams


def build_backbone(input_shape: tuple[int, int, int], cfg: PretrainParams) -> keras.Model:
    """Small VGG-style CNN: per block two 3x3 conv + BN + ReLU, then max-pool; global
    average pool, dropout, a linear embedding of `cfg.embedding_dim`, BN, unit norm."""
    reg = keras.regularizers.L2(cfg.l2) if cfg.l2 else None
    inputs = keras.Input(shape=input_shape, name="face")
    x = inputs
    for i, width in enumerate(cfg.widths):
        for j in range(2):
            x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False,
                                    kernel_regularizer=reg, name=f"b{i}_conv{j}")(x)
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"b{i}_bn{j}")(x)
            x = keras.layers.ReLU(name=f"b{i}_relu{j}")(x)
        x = keras.layers.MaxPooling2D(name=f"b{i}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(cfg.dropout, name="dropout")(x)
    x = keras.layers.Dense(cfg.embedding_dim, kernel_regularizer=reg, name="embedding_dense")(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name="embedding_bn")(x)
    outputs = keras.layers.UnitNormalization(axis=-1, name="embedding")(x)
    return keras.Model(inputs, outputs, name="face_backbone")
