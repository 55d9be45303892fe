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
LINE = 9  # pixels of caption band per caption line (6 pt text)
FACE_IN = {False: 1.1, True: 1.8}  # inches a face is shown at, without / with captions
CHAR_IN, TITLE_IN = 0.075, 0.35  # a class-name character (8 pt), the title's band


def write_preview(faces: pd.DataFrame, faces_dir: Path, out: Path, per_class: int,
                  title: str = "extract_faces preview (faces per class)") -> None:
    """One row per class (the MAX_CLASSES with most faces, then by name): its first
    `per_class` faces (by face id), the class name at left; a `caption` column, if any, is
    written above each face. The faces are pasted into one image on one axes placed by
    hand: a subplot per face (and a layout engine's extra drawing pass) took 3.8 s of a
    3000-photo extract_faces, on one core."""
    sizes = faces["class"].value_counts()
    every = sorted(sizes.index, key=lambda c: (-sizes[c], c))
    classes = every[:MAX_CLASSES]
    if len(classes) < len(every):
        title = f"{title}: {len(classes)} of {len(every)} classes, most faces first"
    samples = [faces[faces["class"] == cls].sort_values("face_id").head(max(per_class, 1))
               for cls in classes]
    cols = max(len(sample) for sample in samples)
    pictures = [[_rgb(faces_dir / path) for path in sample["path"]] for sample in samples]
    side = max(max(img.size) for img in pictures[0])
    captions = "caption" in faces.columns
    band = LINE * max(str(c).count("\n") + 1 for c in faces["caption"]) if captions else 0
    cell, pitch = side + PAD, side + PAD + band  # column and row steps
    sheet = np.full((len(classes) * pitch, cols * cell, 3), 255, np.uint8)
    labels = [f"{cls}\n({sizes[cls]})" for cls in classes]
    width = FACE_IN[captions] * cols  # inches: the sheet, the names at its left, the figure
    height = width * sheet.shape[0] / sheet.shape[1]
    left = CHAR_IN * max(len(cls) for cls in classes) + 0.15
    fig = plt.figure(figsize=(left + width + 0.1, height + TITLE_IN + 0.05))
    ax = fig.add_axes((left / fig.get_figwidth(), 0.05 / fig.get_figheight(),
                       width / fig.get_figwidth(), height / fig.get_figheight()))
    for row, (sample, row_pictures) in enumerate(zip(samples, pictures, strict=True)):
        for col, ((_, face), img) in enumerate(zip(sample.iterrows(), row_pictures, strict=True)):
            y, x = row * pitch + band, col * cell
            sheet[y:y + side, x:x + side] = np.asarray(img.resize((side, side)))
            if captions:
                ax.text(x + side / 2, y - 1, face["caption"], fontsize=6, ha="center",
                        va="bottom", linespacing=1.1)
    ax.imshow(sheet)
    ax.set_xticks([])
    ax.set_yticks([row * pitch + band + side / 2 for row in range(len(classes))], labels,
                  fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.suptitle(title, fontsize=9, y=1 - 0.08 / fig.get_figheight(), va="top")
    fig.savefig(out, dpi=80)
    plt.close(fig)


def _rgb(path: Path) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGB")
