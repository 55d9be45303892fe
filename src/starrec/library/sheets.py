"""Face thumbnails cut from the library's photos by their stored boxes, and contact sheets
of them: the pictures `clusters` and `report-library` show."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from starrec.faces.image import UnreadableImage, decode_rgb

THUMB = 96  # pixels per side
MARGIN = 0.25  # of the box side added on every side


def thumbnails(faces: Iterable[dict], max_pixels: int) -> dict[int, Image.Image]:
    """face id -> square RGB thumbnail of that face, each photo decoded once; faces whose
    photo is gone or unreadable now are left out."""
    by_photo: dict[str, list[dict]] = {}
    for f in faces:
        by_photo.setdefault(f["path"], []).append(f)
    out = {}
    for path, group in by_photo.items():
        try:
            rgb = decode_rgb(Path(path), max_pixels)
        except UnreadableImage:
            continue
        for f in group:
            out[f["id"]] = face_thumb(rgb, (f["box_x"], f["box_y"], f["box_w"], f["box_h"]))
    return out


def face_thumb(rgb: np.ndarray, box: tuple[int, int, int, int]) -> Image.Image:
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * MARGIN)
    cx, cy = x + w / 2, y + h / 2
    img = Image.fromarray(rgb)
    return img.crop((int(cx - side / 2), int(cy - side / 2), int(cx + side / 2),
                     int(cy + side / 2))).resize((THUMB, THUMB), Image.Resampling.LANCZOS)


def contact_sheet(thumbs: list[Image.Image], captions: list[str], cols: int = 8) -> Image.Image:
    """Thumbnails in rows of `cols`, each with a caption under it."""
    cols = max(1, min(cols, len(thumbs)))
    rows = max(1, -(-len(thumbs) // cols))
    cell_h = THUMB + 14
    sheet = Image.new("RGB", (cols * THUMB, rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (thumb, caption) in enumerate(zip(thumbs, captions, strict=True)):
        x, y = (i % cols) * THUMB, (i // cols) * cell_h
        sheet.paste(thumb, (x, y))
        draw.text((x + 2, y + THUMB + 1), caption[:16], fill="black")
    return sheet
