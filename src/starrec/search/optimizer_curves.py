"""The classic optimizer comparison: the embedding head trained once per optimizer (same
seed, data and learning rate), its validation loss per epoch, one curve each."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from starrec.config import EmbeddingHeadParams  # noqa: E402
from starrec.io import atomic_path  # noqa: E402
from starrec.train.embedding_data import EmbeddingData  # noqa: E402
from starrec.train.embedding_head import fit_embedding_head  # noqa: E402
from starrec.train.optimizers import OPTIMIZERS  # noqa: E402


def optimizer_curves(data: EmbeddingData, head: EmbeddingHeadParams, seed: int,
                     names: tuple[str, ...] = OPTIMIZERS) -> pd.DataFrame:
    """Columns optimizer, epoch (from 1), loss, val_loss: one fit per optimizer."""
    curves = []
    for name in names:
        _, history = fit_embedding_head(data.x["train"], data.y["train"], data.x["val"],
                                        data.y["val"], head.model_copy(update={"optimizer": name}),
                                        seed)
        curves.append(history[["epoch", "loss", "val_loss"]].assign(optimizer=name))
    return pd.concat(curves, ignore_index=True)[["optimizer", "epoch", "loss", "val_loss"]]


def plot_optimizer_curves(curves: pd.DataFrame, head: EmbeddingHeadParams, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in curves.groupby("optimizer", sort=False):
        ax.plot(curve["epoch"], curve["val_loss"], label=name)
    ax.set(xlabel="epoch", ylabel="validation loss",
           title=f"Optimizers: embedding head, learning rate {head.learning_rate:g}, same seed")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
