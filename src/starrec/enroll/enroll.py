"""`starrec enroll` / `starrec unenroll`: add or remove a star from a few photos, no retraining."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from starrec.artifacts import BACKBONE_META
from starrec.config import GalleryParams
from starrec.enroll.gallery import EnrollError, load_gallery, save_gallery
from starrec.faces.detect import faces_in_image, to_input
from starrec.faces.image import UnreadableImage, decode_rgb
from starrec.model_meta import MetaError, ModelMeta, read_meta
from starrec.faces.embed import embed

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


def backbone_meta(backbone_path: Path) -> ModelMeta:
    """The meta JSON beside the backbone: input size, channels, extract params."""
    try:
        return read_meta(Path(backbone_path).with_name(BACKBONE_META))
    except MetaError as exc:
        raise EnrollError(str(exc)) from exc


def face_crops(photos: list[Path], meta: ModelMeta, max_pixels: int
               ) -> tuple[np.ndarray, list[str], list[str]]:
    """The largest face of each photo as model input (float32 [0, 1]), cut with the
    backbone's own extract params; returns (crops, sources, problems per skipped photo)."""
    extract = meta.extract.model_copy(update={"policy": "largest"})
    crops, sources, problems = [], [], []
    for photo in photos:
        try:
            faces = faces_in_image(decode_rgb(photo.read_bytes(), max_pixels), extract)
        except (OSError, UnreadableImage) as exc:
            problems.append(f"{photo}: {exc}")
            continue
        if not faces:
            problems.append(f"{photo}: no face found")
            continue
        crops.append(to_input(faces[0].image, meta.channels))
        sources.append(str(photo))
    for p in problems:
        log.warning("enroll: skipped %s", p)
    shape = (0, meta.image_size, meta.image_size, meta.channels)
    return (np.stack(crops) if crops else np.zeros(shape, np.float32)), sources, problems


def enroll(name: str, photos: list[str | Path], backbone_path: str | Path,
           cfg: GalleryParams, max_pixels: int) -> dict[str, Any]:
    """Embed the faces in `photos` and add them to `name`'s prototype; recalibrates the
    unknown threshold. Photos without a usable face are reported, not fatal; none at all is."""
    import keras

    backbone_path = Path(backbone_path)
    name = name.strip()
    if not name:
        raise EnrollError("star name is empty")
    meta = backbone_meta(backbone_path)
    files = photo_files(photos)
    crops, sources, problems = face_crops(files, meta, max_pixels)
    if not len(crops):
        raise EnrollError(f"{name}: no face found in any of the {len(files)} photos")
    backbone = keras.saving.load_model(backbone_path, compile=False)
    gallery = load_gallery(backbone_path.parent, int(backbone.output_shape[-1]))
    gallery.add(name, embed(backbone, crops), sources)
    saved = save_gallery(backbone_path.parent, gallery, cfg.unknown_accept)
    log.info("enrolled %s: %d faces (%d photos skipped); %d stars, unknown threshold %.3f",
             name, len(crops), len(problems), len(saved["classes"]), saved["threshold"])
    return {**saved, "added": len(crops), "skipped": problems}


def unenroll(name: str, backbone_path: str | Path, cfg: GalleryParams) -> dict[str, Any]:
    """Remove every face of `name` from the gallery and recalibrate."""
    backbone_path = Path(backbone_path)
    dim = backbone_meta(backbone_path).embedding_dim
    gallery = load_gallery(backbone_path.parent, dim)
    removed = gallery.remove(name)
    saved = save_gallery(backbone_path.parent, gallery, cfg.unknown_accept)
    log.info("removed %s (%d faces); %d stars left", name, removed, len(saved["classes"]))
    return {**saved, "removed": removed}
