"""`preview.png`: a contact sheet of faces per class, to eyeball what the detector cut (and,
with captions, what the cleaner flagged)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

MAX_CLASSES = 16  # rows: a sheet a screen shows whole (at most ~1400 px high)


def write_preview(faces: pd.DataFrame, faces_dir: Path, out: Path, per_class: int,
                  title: str = "extract_faces preview (faces per class)") -> None:
    """One row per class (the MAX_CLASSES with most faces, then by name): its first
    `per_class` faces (by face id), the class name at left; a `caption` column, if any, is
    written above each face."""
    sizes = faces["class"].value_counts()
    every = sorted(sizes.index, key=lambda c: (-sizes[c], c))
    classes = every[:MAX_CLASSES]
    if len(classes) < len(every):
        title = f"{title}: {len(classes)} of {len(every)} classes, most faces first"
    cols = max(per_class, 1)
    captions = "caption" in faces.columns
    fig, axes = plt.subplots(len(classes), cols, squeeze=False, layout="constrained", figsize=(
        (1.8 if captions else 1.1) * cols + 1.6, (1.6 if captions else 1.1) * len(classes) + 0.4))
    for row, cls in zip(axes, classes, strict=True):
        sample = faces[faces["class"] == cls].sort_values("face_id").head(cols)
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        for ax, (_, face) in zip(row, sample.iterrows(), strict=False):
            img = Image.open(faces_dir / face["path"])
            ax.imshow(img, cmap="gray" if img.mode == "L" else None, vmin=0, vmax=255)
            if captions:
                ax.set_title(face["caption"], fontsize=6)
        row[0].set_ylabel(f"{cls}\n({(faces['class'] == cls).sum()})", rotation=0,
                          ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.savefig(out, dpi=80)
    plt.close(fig)
