"""The embedding head trained on several workers (`train.strategy: multi_worker`, TF_CONFIG).

Keras 3's `Model.fit` cannot run under `tf.distribute.MultiWorkerMirroredStrategy` (it
reduces a per-replica batch while building the model: keras-team/keras#20585), so this is the
custom loop TensorFlow documents for it: `strategy.run` per batch, the loss averaged over
the global batch, gradients all-reduced across the workers. Every worker runs it on the same
data; each takes its shard of every batch.
"""

from __future__ import annotations

import logging

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from starrec.config import EmbeddingHeadParams
from starrec.train.embedding_head import build_embedding_head
from starrec.train.optimizers import make_optimizer

log = logging.getLogger(__name__)
SUM = tf.distribute.ReduceOp.SUM


def _dataset(x: np.ndarray, y: np.ndarray, w: np.ndarray, batch: int,
             seed: int | None) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((np.asarray(x, np.float32), y, w))
    if seed is not None:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    options = tf.data.Options()  # in-memory data: each worker takes its share of a batch
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.batch(batch).with_options(options)


def fit_distributed_head(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                         y_val: np.ndarray, params: EmbeddingHeadParams, seed: int,
                         strategy: tf.distribute.Strategy) -> tuple[keras.Model, pd.DataFrame]:
    """`fit_embedding_head`'s model, class weights and history columns, on `strategy`."""
    y_train, y_val = np.asarray(y_train, np.int64), np.asarray(y_val, np.int64)
    classes = np.unique(y_train)
    weight = dict(zip(classes, compute_class_weight("balanced", classes=classes, y=y_train)))
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = build_embedding_head(x_train.shape[1], int(classes.max()) + 1, params)
        optimizer = make_optimizer(params.optimizer, params.learning_rate, params.momentum)
    batch = params.batch_size

    def step(x: tf.Tensor, y: tf.Tensor, w: tf.Tensor, training: bool) -> tuple[tf.Tensor, ...]:
        with tf.GradientTape() as tape:
            probs = model(x, training=training)
            per_face = keras.losses.sparse_categorical_crossentropy(y, probs)
            loss = (tf.reduce_sum(per_face * w) / batch
                    + tf.add_n(model.losses) / strategy.num_replicas_in_sync)
        if training:
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        hits = tf.reduce_sum(tf.cast(tf.argmax(probs, axis=1) == y, tf.float32))
        return tf.reduce_sum(per_face * w), hits, tf.cast(tf.size(y), tf.float32)

    @tf.function
    def run(x: tf.Tensor, y: tf.Tensor, w: tf.Tensor, training: bool) -> list[tf.Tensor]:
        out = strategy.run(step, args=(x, y, w, training))
        return [strategy.reduce(SUM, v, axis=None) for v in out]

    def epoch(ds: tf.data.Dataset, training: bool) -> tuple[float, float]:
        loss = hits = n = 0.0
        for x, y, w in strategy.experimental_distribute_dataset(ds):
            b_loss, b_hits, b_n = (float(v) for v in run(x, y, w, training))
            loss, hits, n = loss + b_loss, hits + b_hits, n + b_n
        return loss / n, hits / n

    train = _dataset(x_train, y_train, np.array([weight[c] for c in y_train], np.float32),
                     batch, seed)
    val = _dataset(x_val, y_val, np.ones(len(y_val), np.float32), batch, None)
    rows = []
    for i in range(params.epochs):
        loss, accuracy = epoch(train, True)
        val_loss, val_accuracy = epoch(val, False)
        rows.append({"epoch": i + 1, "loss": loss, "accuracy": accuracy, "val_loss": val_loss,
                     "val_accuracy": val_accuracy})
        log.info("epoch %d/%d  loss %.4g  accuracy %.4g  val_loss %.4g  val_accuracy %.4g",
                 i + 1, params.epochs, loss, accuracy, val_loss, val_accuracy)
    # a copy outside the strategy: predicting and saving on the chief alone must not wait for
    # collective ops the other workers (done, gone) would never join
    plain = build_embedding_head(x_train.shape[1], int(classes.max()) + 1, params)
    plain.set_weights(model.get_weights())
    return plain, pd.DataFrame(rows)
