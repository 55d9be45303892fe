"""`preview.png`: a contact sheet of faces per class, to eyeball what the detector cut (and,
with captions, what the cleaner flagged)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

MAX_CLASSES = 16  # rows: a sheet a screen shows whole (at most ~1400 px high)
PAD = 4  # pixels between faces
CAPTION_BAND = 16  # pixels above each row of faces for their captions


def write_preview(faces: pd.DataFrame, faces_dir: Path, out: Path, per_class: int,
                  title: str = "extract_faces preview (faces per class)") -> None:
    """One row per class (the MAX_CLASSES with most faces, then by name): its first
    `per_class` faces (by face id), the class name at left; a `caption` column, if any, is
    written above each face. The faces are pasted into one image on one axes: a subplot per
    face took 3.8 s of a 3000-photo extract_faces, on one core."""
    sizes = faces["class"].value_counts()
    every = sorted(sizes.index, key=lambda c: (-sizes[c], c))
    classes = every[:MAX_CLASSES]
    if len(classes) < len(every):
        title = f"{title}: {len(classes)} of {len(every)} classes, most faces first"
    samples = [faces[faces["class"] == cls].sort_values("face_id").head(max(per_class, 1))
               for cls in classes]
    cols = max(len(sample) for sample in samples)
    side = max(max(Image.open(faces_dir / p).size) for p in samples[0]["path"])
    captions = "caption" in faces.columns
    band = CAPTION_BAND if captions else 0
    cell, pitch = side + PAD, side + PAD + band  # column and row steps
    sheet = np.full((len(classes) * pitch, cols * cell, 3), 255, np.uint8)
    fig, ax = plt.subplots(figsize=((1.8 if captions else 1.1) * cols + 1.6,
                                    (1.6 if captions else 1.1) * len(classes) + 0.4),
                           layout="constrained")
    for row, sample in enumerate(samples):
        for col, (_, face) in enumerate(sample.iterrows()):
            with Image.open(faces_dir / face["path"]) as img:
                pixels = np.asarray(img.convert("RGB").resize((side, side)))
            y, x = row * pitch + band, col * cell
            sheet[y:y + side, x:x + side] = pixels
            if captions:
                ax.text(x + side / 2, y - 1, face["caption"], fontsize=6, ha="center",
                        va="bottom")
    ax.imshow(sheet)
    ax.set_xticks([])
    ax.set_yticks([row * pitch + band + side / 2 for row in range(len(classes))],
                  [f"{cls}\n({sizes[cls]})" for cls in classes], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.suptitle(title, fontsize=9)
    fig.savefig(out, dpi=80, bbox_inches="tight")  # long class names stay whole
    plt.close(fig)
