"""Faces of held-out people — in the source data but never trained on — for the open-set
report. Read from a faces dir (faces-manifest contract) or detected in a class-per-folder
photo dir with the model's own extract params; trained class names are always excluded."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from starrec.artifacts import MANIFEST
from starrec.config import ExtractParams, UnknownPeopleParams
from starrec.faces.detect import faces_in_image, to_input
from starrec.faces.image import UnreadableImage, decode_rgb
from starrec.names import person_key

log = logging.getLogger(__name__)


def unknown_faces(params: UnknownPeopleParams, classes: list[str], image_size: int,
                  channels: int, extract: ExtractParams, max_pixels: int
                  ) -> tuple[np.ndarray, list[str]]:
    """(model input float32 [0,1] NxHxWxC, person of each face) for a model trained on
    `classes` with (image_size, channels) input cut with `extract`."""
    root = Path(params.path)
    shape = (0, image_size, image_size, channels)
    if not root.is_dir():
        log.warning("%s: no held-out people folder; open-set report has known faces only", root)
        return np.empty(shape, np.float32), []
    known = {person_key(c) for c in classes}
    rng = random.Random(params.seed)
    manifest = root / MANIFEST
    files = (_from_manifest(manifest, known) if manifest.is_file() else _from_photos(root, known))
    picked = [(person, f) for person, fs in sorted(files.items())
              for f in rng.sample(fs, min(len(fs), params.max_per_person))]
    largest = extract.model_copy(update={"policy": "largest"})
    images, people = [], []
    for person, f in picked:
        face = (_crop(f, image_size, channels) if manifest.is_file()
                else _detected(f, largest, max_pixels))
        if face is not None:
            images.append(to_input(face, channels))
            people.append(person)
    log.info("held-out people: %d faces of %d people from %s (%d photos without a usable face)",
             len(images), len(set(people)), root, len(picked) - len(images))
    return (np.stack(images) if images else np.empty(shape, np.float32)), people


def _from_manifest(manifest: Path, known: set[str]) -> dict[str, list[Path]]:
    df = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    df = df[(df["status"] == "ok") & ~df["class"].map(person_key).isin(known)]
    return {c: [manifest.parent / p for p in g["path"]] for c, g in df.groupby("class")}


def _from_photos(root: Path, known: set[str]) -> dict[str, list[Path]]:
    return {d.name: sorted(f for f in d.iterdir() if f.is_file())
            for d in sorted(root.iterdir()) if d.is_dir() and person_key(d.name) not in known}


def _crop(path: Path, size: int, channels: int) -> np.ndarray | None:
    """A face crop file resized to the model's size."""
    try:
        img = Image.open(path).convert("L" if channels == 1 else "RGB")
    except OSError as exc:
        log.warning("%s: skipped (%s)", path, exc)
        return None
    return np.asarray(img.resize((size, size), Image.BICUBIC))


def _detected(path: Path, extract: ExtractParams, max_pixels: int) -> np.ndarray | None:
    """The largest face detected in a photo, cut with the model's extract params."""
    try:
        rgb = decode_rgb(path.read_bytes(), max_pixels)
    except (OSError, UnreadableImage) as exc:
        log.warning("%s: skipped (%s)", path, exc)
        return None
    crops = faces_in_image(rgb, extract)
    return crops[0].image if crops else None
