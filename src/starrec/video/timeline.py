"""The cast's timeline: one row per cast member, a bar wherever they are on screen."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from starrec.predict.classifier import UNKNOWN  # noqa: E402
from starrec.video.cast import intervals  # noqa: E402
from starrec.video.identity import NamedTrack  # noqa: E402


def draw_timeline(tracks: list[NamedTrack], fps: float, frames: int, title: str,
                  out: Path) -> None:
    """Write the timeline PNG to `out` (a video without faces gets an empty chart saying so)."""
    labels = list(dict.fromkeys(t.label for t in sorted(tracks, key=lambda t: (t.start, t.id))))
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.45 * max(1, len(labels))))
    for row, label in enumerate(labels):
        spans = [(s / fps, (e - s + 1) / fps)
                 for s, e in intervals([t for t in tracks if t.label == label])]
        ax.broken_barh(spans, (row - 0.35, 0.7),
                       color="tab:gray" if label.startswith(UNKNOWN) else "tab:green")
    if not labels:
        ax.text(0.5, 0.5, "no faces", ha="center", va="center", transform=ax.transAxes)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5 if labels else 1, -0.5 if labels else 0)
    ax.set_xlim(0, max(frames, 1) / fps)
    ax.set_xlabel("seconds")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
