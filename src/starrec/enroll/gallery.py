"""The enrolled stars beside the backbone: `gallery.npz` (one embedding per enrolled face)
and `gallery.json` (classes, photo counts, the calibrated unknown threshold).

A star's prototype is the normalised mean of its face embeddings; a face is scored by its
cosine similarity to every prototype. The `unknown` threshold is recalibrated on every change
so that at most `unknown_accept` of the faces of people never trained on nor enrolled (the
held-out public faces that `pretrain` stores in `backbone_impostors.npz`) pass it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from starrec.artifacts import BACKBONE_IMPOSTORS, GALLERY_JSON, GALLERY_NPZ
from starrec.io import atomic_path, write_json_atomic
from starrec.names import person_key
from starrec.faces.embed import prototypes

log = logging.getLogger(__name__)


class EnrollError(ValueError):
    """Enrolment cannot go on (the message names the file or star and the reason)."""


@dataclass
class Gallery:
    """Face embeddings (N, D) with the star name and source photo of each."""

    embeddings: np.ndarray
    names: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.names))

    def add(self, name: str, embeddings: np.ndarray, sources: list[str]) -> None:
        """Append faces of `name` (enrolling a star again adds to its photos)."""
        self.embeddings = np.concatenate([self.embeddings, embeddings]).astype(np.float32)
        self.names += [name] * len(embeddings)
        self.sources += list(sources)

    def remove(self, name: str) -> int:
        """Drop every face of `name`; returns how many."""
        keep = np.array([n != name for n in self.names], dtype=bool)
        if keep.all():
            raise EnrollError(f"{name!r} is not enrolled (enrolled: {', '.join(self.classes) or 'none'})")
        self.embeddings = self.embeddings[keep]
        self.names = [n for n, k in zip(self.names, keep, strict=True) if k]
        self.sources = [s for s, k in zip(self.sources, keep, strict=True) if k]
        return int((~keep).sum())

    def prototypes(self) -> np.ndarray:
        """(K, D) unit-norm mean embedding per class, in `classes` order."""
        return prototypes(self.embeddings, np.array(self.names))[1]


def calibrate_threshold(prototypes: np.ndarray, impostors: np.ndarray,
                        unknown_accept: float) -> float:
    """Cosine threshold that at most `unknown_accept` of the impostor faces reach (their
    best-matching prototype's similarity is the score they would be named with)."""
    if not len(impostors):
        raise EnrollError("no impostor faces to calibrate the unknown threshold with")
    best = (impostors @ prototypes.T).max(axis=1)
    return float(np.quantile(best, 1.0 - unknown_accept, method="higher"))


def load_impostors(model_dir: Path, exclude: list[str]) -> np.ndarray:
    """Held-out public face embeddings, minus any person whose name matches an enrolled star."""
    path = model_dir / BACKBONE_IMPOSTORS
    if not path.is_file():
        raise EnrollError(f"{path}: missing (written by the pretrain stage)")
    data = np.load(path)
    keys = {person_key(n) for n in exclude}
    keep = np.array([person_key(str(n)) not in keys for n in data["names"]], dtype=bool)
    return data["embeddings"][keep]


def load_gallery(model_dir: Path, dim: int) -> Gallery:
    """The gallery beside the backbone, or an empty one."""
    path = Path(model_dir) / GALLERY_NPZ
    if not path.is_file():
        return Gallery(np.zeros((0, dim), dtype=np.float32))
    data = np.load(path)
    return Gallery(data["embeddings"].astype(np.float32), [str(n) for n in data["names"]],
                   [str(s) for s in data["sources"]])


def save_gallery(model_dir: Path, gallery: Gallery, unknown_accept: float) -> dict[str, Any]:
    """Write gallery.npz and gallery.json (threshold recalibrated); an empty gallery removes
    both files."""
    model_dir = Path(model_dir)
    npz, meta_path = model_dir / GALLERY_NPZ, model_dir / GALLERY_JSON
    if not gallery.names:
        npz.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
        return {"classes": [], "threshold": None}
    protos = gallery.prototypes()
    threshold = calibrate_threshold(protos, load_impostors(model_dir, gallery.classes),
                                    unknown_accept)
    with atomic_path(npz) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, embeddings=gallery.embeddings, names=np.array(gallery.names),
                     sources=np.array(gallery.sources))
    meta = {"classes": gallery.classes, "threshold": threshold, "score": "max_prob",
            "unknown_accept": unknown_accept,
            "photos": {c: gallery.names.count(c) for c in gallery.classes}}
    write_json_atomic(meta_path, meta)
    return meta
