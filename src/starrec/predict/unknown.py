"""Faces of held-out people — in the source data but never trained on — for the open-set
report. Read from a faces dir (faces-manifest contract) or detected in a class-per-folder
photo dir with the model's own extract params; trained class names are always excluded."""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from starrec.config import UnknownPeopleParams
from starrec.predict.classifier import Classifier
from starrec.predict.recognize import ImageError, decode_image, detect, to_input

log = logging.getLogger(__name__)


def same_person(name: str) -> str:
    """Folder names of one person compare equal (`Colin_Powell`, `colin powell`, `colin-powell`)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def unknown_faces(params: UnknownPeopleParams, classifier: Classifier) -> tuple[np.ndarray, list[str]]:
    """(images float32 [0,1] NxHxWxC for the classifier, person of each face)."""
    root = Path(params.path)
    if not root.is_dir():
        log.warning("%s: no held-out people folder; open-set report has known faces only", root)
        return np.empty((0, classifier.image_size, classifier.image_size, classifier.channels),
                        np.float32), []
    known = {same_person(c) for c in classifier.classes}
    rng = random.Random(params.seed)
    manifest = root / "manifest.csv"
    files = (_from_manifest(manifest, known) if manifest.is_file() else _from_photos(root, known))
    picked = [(person, f) for person, fs in sorted(files.items())
              for f in rng.sample(fs, min(len(fs), params.max_per_person))]
    images, people = [], []
    for person, f in picked:
        face = _face(f, manifest.is_file(), classifier)
        if face is not None:
            images.append(to_input(face, classifier.channels))
            people.append(person)
    log.info("held-out people: %d faces of %d people from %s (%d photos without a usable face)",
             len(images), len(set(people)), root, len(picked) - len(images))
    shape = (0, classifier.image_size, classifier.image_size, classifier.channels)
    return (np.stack(images) if images else np.empty(shape, np.float32)), people


def _from_manifest(manifest: Path, known: set[str]) -> dict[str, list[Path]]:
    df = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    df = df[(df["status"] == "ok") & ~df["class"].map(same_person).isin(known)]
    return {c: [manifest.parent / p for p in g["path"]] for c, g in df.groupby("class")}


def _from_photos(root: Path, known: set[str]) -> dict[str, list[Path]]:
    return {d.name: sorted(f for f in d.iterdir() if f.is_file())
            for d in sorted(root.iterdir()) if d.is_dir() and same_person(d.name) not in known}


def _face(path: Path, is_crop: bool, classifier: Classifier) -> np.ndarray | None:
    """A crop file resized to the model's size, or the largest face detected in a photo."""
    try:
        if is_crop:
            img = Image.open(path).convert("L" if classifier.channels == 1 else "RGB")
            size = classifier.image_size
            return np.asarray(img.resize((size, size), Image.BICUBIC))
        rgb = decode_image(path.read_bytes(), max_pixels=100_000_000)
    except (OSError, ImageError) as exc:
        log.warning("%s: skipped (%s)", path, exc)
        return None
    crops = detect(rgb, classifier.extract.model_copy(update={"policy": "largest"}))
    return crops[0].image if crops else None
