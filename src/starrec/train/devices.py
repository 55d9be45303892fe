"""Where training runs: GPU detection (logged), mixed precision, tf.distribute strategy,
seeds and deterministic ops."""

from __future__ import annotations

import json
import logging
import os

import keras
import tensorflow as tf

from starrec.config import TrainParams

log = logging.getLogger(__name__)


def setup_devices(cfg: TrainParams) -> tf.distribute.Strategy:
    """Log the devices, set seeds / determinism / precision policy, return the strategy.

    Call before building the model: the policy and the strategy scope apply to layers made
    after it. Mixed precision is float16 on GPUs; a CPU has no fast float16, so it stays
    float32 there (with a warning) rather than running slower.
    """
    keras.utils.set_random_seed(cfg.seed)
    if cfg.deterministic:
        tf.config.experimental.enable_op_determinism()
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)
        names = [tf.config.experimental.get_device_details(g).get("device_name", g.name)
                 for g in gpus]
        log.info("Training on %d GPU(s): %s", len(gpus), ", ".join(names))
    else:
        log.info("No GPU found; training on CPU")
    policy = "float32"
    if cfg.mixed_precision:
        if gpus:
            policy = "mixed_float16"
        else:
            log.warning("mixed_precision ignored: no GPU (float16 is slower on a CPU)")
    keras.mixed_precision.set_global_policy(policy)
    return make_strategy(cfg.strategy)


def is_chief(tf_config: str | None) -> bool:
    """Whether this process writes the outputs and the MLflow run: the `chief` task, else
    worker 0 of a cluster without one, or the only process when there is no TF_CONFIG."""
    if not tf_config:
        return True
    spec = json.loads(tf_config)
    task = spec.get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    return kind == "chief" or (kind == "worker" and index == 0
                               and "chief" not in spec.get("cluster", {}))


def make_strategy(name: str) -> tf.distribute.Strategy:
    """default: one device; mirrored: all local GPUs; multi_worker: the cluster in TF_CONFIG."""
    if name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    elif name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            log.warning("strategy multi_worker without TF_CONFIG: a one-worker cluster")
        else:
            task = json.loads(os.environ["TF_CONFIG"]).get("task", {})
            log.info("multi-worker task %s %s", task.get("type"), task.get("index"))
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    log.info("strategy %s: %d replica(s)", name, strategy.num_replicas_in_sync)
    return strategy
