"""Model `finetune`: the pretrained SFace (faces/sface_keras.py) fine-tuned on the stars' aligned
crops with a CosFace head, under random degradations (faces/degrade.py).

Why CosFace and not ArcFace: CosFace's margin is additive on the logit (s * (cos - m) for the
true class), so the loss alone can apply it to the class probabilities the model outputs:
log p differs from the logits only by a constant a softmax ignores. The saved model is then
built from standard Keras layers only (no custom layer, no train step, no custom objects to
load it), and its output at prediction is softmax(s * cos) without a margin. ArcFace's
margin, cos(theta + m), needs the cosine itself, which the probabilities do not give back.
It is also the steadier of the two on few faces (no theta + m > pi case to patch).

Two phases: the head alone with SFace frozen (a random head would send large gradients into
the pretrained weights), then the top `unfreeze_blocks` conv blocks and the embedding
layers with it at a small learning rate. SFace runs in inference mode throughout (its batch
norm statistics and dropout fixed): batches of a few dozen star faces would only wreck the
statistics learnt on millions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from starrec.config import DegradeParams, FinetuneParams, TrainParams
from starrec.faces.degrade import augment_batch
from starrec.faces.sface_keras import SIZE, load_sface, top_layers
from starrec.stage import StageError
from starrec.train.data import TrainData, load_data
from starrec.train.devices import setup_devices
from starrec.train.fit import fingerprint, fit
from starrec.train.optimizers import make_optimizer

log = logging.getLogger(__name__)
EMBEDDER = "sface"  # the embedder sub-model's name inside the saved model
MIN_PROB = 1e-37  # float32's smallest normal is 1.2e-38; s <= 32 keeps log p above -2s - 7


@dataclass
class Finetuned:
    model: keras.Model  # aligned crop, float32 [0, 1] -> class probabilities
    history: pd.DataFrame  # both phases, epochs numbered on from 1
    data: TrainData


def cosface_loss(scale: float, margin: float) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Cross-entropy of the CosFace logits s * cos - s * m * onehot(y), from the model's
    probabilities softmax(s * cos): their log is s * cos up to a constant."""
    def loss(y_true: tf.Tensor, probs: tf.Tensor) -> tf.Tensor:
        y = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        probs = keras.ops.cast(probs, "float32")
        logits = (keras.ops.log(keras.ops.clip(probs, MIN_PROB, 1.0))
                  - scale * margin * keras.ops.one_hot(y, keras.ops.shape(probs)[-1]))
        return keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)

    return loss


def build_finetune(sface: keras.Model, n_classes: int, cfg: FinetuneParams) -> keras.Model:
    """float32 [0, 1] aligned crops (as the TFRecord reader yields them) -> SFace -> unit
    embedding -> cosine to each class's unit weight vector -> softmax(s * cos)."""
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Rescaling(255.0, name="pixels")(image)  # SFace scales 0-255 itself
    x = sface(x, training=False)
    x = keras.layers.UnitNormalization(name="unit_embedding")(x)
    x = keras.layers.Dense(n_classes, use_bias=False, name="cosine",
                           kernel_initializer=keras.initializers.Orthogonal(),
                           kernel_constraint=keras.constraints.UnitNorm(axis=0))(x)
    x = keras.layers.Rescaling(cfg.scale, name="logits")(x)
    probs = keras.layers.Activation("softmax", dtype="float32", name="probs")(x)
    return keras.Model(image, probs, name="finetune")


def embedder_of(model: keras.Model) -> keras.Model:
    """The fine-tuned SFace inside a saved finetune model: RGB 0-255 crops -> 128-d."""
    return model.get_layer(EMBEDDER)


def degrader(cfg: DegradeParams, seed: int) -> Callable[[tf.Tensor], tf.Tensor]:
    """A tf.data map of float [0, 1] batches through `augment_batch` (numpy, OpenCV)."""
    rng = np.random.default_rng(seed)

    def run(batch: np.ndarray) -> np.ndarray:
        crops = np.rint(batch * 255.0).astype(np.uint8)  # exact: the reader divided by 255
        return augment_batch(crops, rng, cfg).astype(np.float32) / 255.0

    def apply(images: tf.Tensor) -> tf.Tensor:
        out = tf.numpy_function(run, [images], tf.float32, stateful=True)
        return tf.ensure_shape(out, images.shape)

    return apply


def devices(t: TrainParams) -> tuple[tf.distribute.Strategy, int, int]:
    """(strategy, warm-up epochs, fine-tune epochs): mixed precision and MirroredStrategy over
    the local GPUs with the gpu_* epochs when there are GPUs, else float32 on the CPU."""
    gpus = bool(tf.config.list_physical_devices("GPU"))
    f = t.finetune
    strategy = setup_devices(t.model_copy(update={
        "mixed_precision": gpus, "strategy": "mirrored" if gpus else "default"}))
    warmup, epochs = (f.gpu_warmup_epochs, f.gpu_epochs) if gpus else (f.warmup_epochs, f.epochs)
    if not gpus:
        log.info("finetune on CPU in float32: %d warm-up + %d fine-tune epochs (gpu_* when a "
                 "GPU is found)", warmup, epochs)
    return strategy, warmup, epochs


def finetune(t: TrainParams, tfrecords: Path, augmented: Path | None, sface_file: Path,
             checkpoints: Path) -> Finetuned:
    """The trained model, its history and data: the TFRecords' aligned crops (+ augmented
    shards when `use_augmented`), degraded online, val for early stopping."""
    f = t.finetune
    strategy, warmup_epochs, tune_epochs = devices(t)
    data = load_data(t, tfrecords, augmented, degrader(f.degrade, t.seed))
    if data.input_shape != (SIZE, SIZE, 3):
        raise StageError(f"{tfrecords}: finetune needs aligned {SIZE}x{SIZE} RGB crops, got "
                         f"{'x'.join(map(str, data.input_shape))} (extract.detector yunet or "
                         f"mtcnn, image_size {SIZE}, color_mode rgb)")
    with strategy.scope():
        sface = load_sface(sface_file)
        model = build_finetune(sface, len(data.classes), f)
    phases = [("warmup", warmup_epochs, f.warmup_learning_rate, 0),
              ("finetune", tune_epochs, f.learning_rate, f.unfreeze_blocks)]
    histories = []
    for name, epochs, lr, blocks in phases:
        sface.trainable = blocks > 0
        if blocks:
            trainable = {id(layer) for layer in top_layers(sface, blocks)}
            for layer in sface.layers:
                layer.trainable = id(layer) in trainable
        with strategy.scope():
            model.compile(optimizer=make_optimizer(f.optimizer, lr, f.momentum),
                          loss=cosface_loss(f.scale, f.margin),
                          metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        log.info("finetune %s: %d epochs at learning rate %g, %d trainable weights", name,
                 epochs, lr, len(model.trainable_weights))
        run_key = fingerprint(model, {**t.model_dump(mode="json"), "phase": name},
                              {"classes": data.classes, "sizes": data.sizes})
        history = fit(model, data.train, epochs=epochs, lr=lambda epoch, lr=lr: lr,
                      checkpoint_dir=Path(checkpoints) / name, run_key=run_key, val=data.val,
                      patience=t.early_stopping_patience, class_weight=data.class_weight)
        histories.append(history.assign(epoch=history["epoch"] + sum(map(len, histories))))
    return Finetuned(model, pd.concat(histories, ignore_index=True), data)
