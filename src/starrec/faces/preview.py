"""`preview.png`: a contact sheet of faces per class, to eyeball what the detector cut."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402


def write_preview(faces: pd.DataFrame, faces_dir: Path, out: Path, per_class: int) -> None:
    """One row per class: its first `per_class` faces (by face id), the class name at left."""
    classes = sorted(faces["class"].unique())
    cols = max(per_class, 1)
    fig, axes = plt.subplots(len(classes), cols, figsize=(1.1 * cols + 1.6, 1.1 * len(classes)),
                             squeeze=False)
    for row, cls in zip(axes, classes, strict=True):
        sample = faces[faces["class"] == cls].sort_values("face_id").head(cols)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        for ax, rel in zip(row, sample["path"], strict=False):
            img = Image.open(faces_dir / rel)
            ax.imshow(img, cmap="gray" if img.mode == "L" else None, vmin=0, vmax=255)
        row[0].set_ylabel(f"{cls}\n({(faces['class'] == cls).sum()})", rotation=0,
                          ha="right", va="center", fontsize=8)
    fig.suptitle("extract_faces preview (faces per class)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
