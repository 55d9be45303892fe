"""`starrec enroll` / `starrec unenroll`: add or remove a star from a few photos, no retraining.

A photo's face is cut and embedded exactly as prediction does it: the largest face through
`faces_in_image` with the model's own extract params, then the model's embedder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from starrec.enroll import EnrollError
from starrec.enroll.gallery import load_gallery, save_gallery
from starrec.enroll.source import EmbeddingSource, load_source
from starrec.faces.detect import faces_in_image, to_input
from starrec.faces.image import UnreadableImage, decode_rgb

log = logging.getLogger(__name__)
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def photo_files(paths: list[str | Path]) -> list[Path]:
    """Files as given, folders searched recursively for photos."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in PHOTO_SUFFIXES)
        else:
            out.append(p)
    return out


def face_crops(photos: list[Path], source: EmbeddingSource, max_pixels: int
               ) -> tuple[np.ndarray, list[str], list[str]]:
    """The largest face of each photo as model input (float32 [0, 1]), cut with the model's
    own extract params; returns (crops, sources, problems per skipped photo)."""
    extract = source.extract.model_copy(update={"policy": "largest"})
    crops, sources, problems = [], [], []
    for photo in photos:
        try:
            faces = faces_in_image(decode_rgb(photo, max_pixels), extract)
        except UnreadableImage as exc:
            problems.append(f"{photo}: {exc}")
            continue
        if not faces:
            problems.append(f"{photo}: no face found")
            continue
        crops.append(to_input(faces[0].image, source.channels))
        sources.append(str(photo))
    for p in problems:
        log.warning("enroll: skipped %s", p)
    shape = (0, source.image_size, source.image_size, source.channels)
    return (np.stack(crops) if crops else np.zeros(shape, np.float32)), sources, problems


def enroll(name: str, photos: list[str | Path], model: str | Path, unknown_accept: float,
           max_pixels: int, batch_size: int) -> dict[str, Any]:
    """Embed the faces in `photos` and add them to `name`'s prototype in the gallery beside
    `model`; recalibrates the unknown threshold. Photos without a usable face are reported,
    not fatal; none at all is."""
    name = name.strip()
    if not name:
        raise EnrollError("star name is empty")
    source = load_source(model, batch_size)
    gallery = load_gallery(source)
    files = photo_files(photos)
    crops, sources, problems = face_crops(files, source, max_pixels)
    if not len(crops):
        raise EnrollError(f"{name}: no face found in any of the {len(files)} photos")
    gallery.add(name, source.embed(crops), sources)
    saved = save_gallery(gallery, source, unknown_accept)
    log.info("enrolled %s: %d faces (%d photos skipped); %d stars, unknown threshold %.3f",
             name, len(crops), len(problems), len(saved["classes"]), saved["threshold"])
    return {**saved, "added": len(crops), "skipped": problems}


def unenroll(name: str, model: str | Path, unknown_accept: float, batch_size: int
             ) -> dict[str, Any]:
    """Remove every face of `name` from the gallery beside `model` and recalibrate."""
    source = load_source(model, batch_size)
    gallery = load_gallery(source)
    removed = gallery.remove(name)
    saved = save_gallery(gallery, source, unknown_accept)
    log.info("removed %s (%d faces); %d stars left", name, removed, len(saved["classes"]))
    return {**saved, "removed": removed}
