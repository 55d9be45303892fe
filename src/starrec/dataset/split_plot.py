"""Per-split class counts as horizontal stacked bars, one bar per class: readable at any
number of classes (the most populous first, at most MAX_CLASSES shown)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

MAX_CLASSES = 30  # a chart a screen shows whole (~1000 px high); the rest is in stats.json


def plot_split_counts(counts: pd.DataFrame, path: Path) -> None:
    """`counts`: one row per class, one column per split; bars stacked by split."""
    top = counts.loc[counts.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    top = top.head(MAX_CLASSES).iloc[::-1]  # barh draws bottom-up: the largest on top
    fig, ax = plt.subplots(figsize=(8.0, 0.28 * len(top) + 1.6), layout="constrained")
    left = pd.Series(0, index=top.index)
    for split in top.columns:
        ax.barh(top.index, top[split], left=left, label=f"{split} ({int(counts[split].sum())})")
        left = left + top[split]
    for y, total in enumerate(left):
        ax.text(total, y, f" {int(total)}", va="center", fontsize=7)
    shown = f"{len(top)} of {len(counts)} classes, most faces first" if len(top) < len(counts) \
        else f"{len(counts)} classes"
    ax.set(xlabel="faces", title=f"Faces per class and split ({shown})")
    ax.tick_params(axis="y", labelsize=8)
    ax.legend(loc="lower right")
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
