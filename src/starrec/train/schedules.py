"""Learning-rate schedules as pure functions of the epoch, so they are testable and the same
value is applied by Keras (LearningRateScheduler) and logged per epoch."""

from __future__ import annotations

import math

from starrec.config import ScheduleParams


def lr_at(cfg: ScheduleParams, base_lr: float, epoch: int, epochs: int) -> float:
    """Learning rate for 0-based `epoch` of `epochs`.

    constant:     base_lr
    exponential:  base_lr * decay_rate ** (epoch // decay_epochs)  (epoch / decay_epochs
                  without `staircase`); the original exercise used 0.96 every 20 epochs
    time_decay:   base_lr / (1 + decay * epoch)
    step:         base_lr * drop ** (epoch // decay_epochs)         (drop 0.5 = halve)
    cosine:       min_lr + (base_lr - min_lr) * (1 + cos(pi * epoch / epochs)) / 2
    """
    if cfg.name == "constant":
        return base_lr
    if cfg.name == "exponential":
        steps = epoch // cfg.decay_epochs if cfg.staircase else epoch / cfg.decay_epochs
        return base_lr * cfg.decay_rate ** steps
    if cfg.name == "time_decay":
        return base_lr / (1.0 + cfg.decay * epoch)
    if cfg.name == "step":
        return base_lr * cfg.drop ** (epoch // cfg.decay_epochs)
    if cfg.name == "cosine":
        return cosine(base_lr, epoch, epochs, cfg.min_lr)
    raise ValueError(f"unknown schedule {cfg.name!r}")


def cosine(base_lr: float, epoch: int, epochs: int, min_lr: float) -> float:
    """Half a cosine from `base_lr` at epoch 0 down to `min_lr` at `epochs` (train's `cosine`
    schedule, and pretrain's)."""
    progress = min(epoch / max(epochs, 1), 1.0)
    return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
