"""history.csv and the learning-curves PNG: the per-epoch record of a training run."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from starrec.io import atomic_path  # noqa: E402

HISTORY_COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]


def read_epoch_log(csv_path: Path) -> pd.DataFrame:
    """Keras CSVLogger rows (appended across resumed runs) → one row per epoch, last wins,
    epochs numbered from 1 (as the log lines, MLflow's steps and the PNG). Columns the run
    never filled (the val_* CSVLogger adds when there is no validation data, as in
    pretraining) are left out."""
    df = pd.read_csv(csv_path).rename(columns={"learning_rate": "lr"}).dropna(axis=1, how="all")
    df = df.drop_duplicates("epoch", keep="last").sort_values("epoch")
    df["epoch"] += 1  # Keras counts from 0
    return df[[c for c in HISTORY_COLUMNS if c in df.columns]].reset_index(drop=True)


def write_history(history: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        history.to_csv(tmp, index=False)


def plot_learning_curves(history: pd.DataFrame, path: Path, title: str = "") -> None:
    """Loss and accuracy per epoch (from 1), train vs val, side by side (over/under-fitting at
    a glance), the best epoch (lowest val_loss, the `best_epoch` metric) marked."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    epochs = history["epoch"]
    best = int(history.loc[history["val_loss"].idxmin(), "epoch"])
    for ax, metric in zip(axes, ("loss", "accuracy")):
        ax.plot(epochs, history[metric], marker=".", label="train")
        ax.plot(epochs, history[f"val_{metric}"], marker=".", label="val")
        ax.axvline(best, color="grey", ls="--", lw=1, label=f"best epoch {best}")
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
