"""Real photos and their faces for the pretrained face-model tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from starrec.config import Config
from starrec.faces.detectors import Detection, Detector, detect_scaled
from starrec.faces.image import decode_rgb

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


def largest_face(detector: Detector, rgb: np.ndarray, cfg: Config) -> Detection:
    """The biggest face of a photo, detected as the extract stage does (downscaled copy)."""
    found = detect_scaled(detector, rgb, cfg.extract.detect_max_side, 1)
    assert found, "no face found"
    return max(found, key=lambda d: d.box[2] * d.box[3])


def photos(folder: Path, per_person: int, people: int) -> list[tuple[str, np.ndarray]]:
    """(person, RGB) for the first `per_person` photos of the first `people` people."""
    dirs = sorted(p for p in folder.iterdir() if p.is_dir())[:people]
    return [(d.name, decode_rgb(f)) for d in dirs for f in sorted(d.glob("*.jpg"))[:per_person]]


def photo_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.suffix.lower() in PHOTO_SUFFIXES)
