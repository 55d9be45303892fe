"""Per-split class counts as a grouped bar chart (the original's label histograms)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def plot_split_counts(counts: pd.DataFrame, path: Path) -> None:
    """`counts`: one row per class, one column per split; bars grouped by class."""
    x = np.arange(len(counts))
    width = 0.8 / len(counts.columns)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(counts) + 2), 4.5))
    for i, split in enumerate(counts.columns):
        bars = ax.bar(x + (i - (len(counts.columns) - 1) / 2) * width, counts[split], width,
                      label=f"{split} ({int(counts[split].sum())})")
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(x, counts.index, rotation=30, ha="right")
    ax.set_ylabel("faces")
    ax.set_title("Faces per class and split")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)
