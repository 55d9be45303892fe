"""The enrolled stars beside the backbone: `gallery.npz` (one embedding per enrolled face)
and `gallery.json` (classes, photo counts, the calibrated unknown threshold).

A star's prototype is the normalised mean of its face embeddings; a face is scored by its
cosine similarity to every prototype. The `unknown` threshold is recalibrated on every change
so that at most `unknown_accept` of the faces of people never trained on nor enrolled (the
held-out public faces that `pretrain` stores in `backbone_impostors.npz`) pass it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from starrec.config import ExtractParams
from starrec.io import atomic_path, write_json_atomic
from starrec.pretrain.identities import name_key

log = logging.getLogger(__name__)
GALLERY_NPZ = "gallery.npz"
GALLERY_JSON = "gallery.json"
META_JSON = "backbone_meta.json"
IMPOSTORS_NPZ = "backbone_impostors.npz"


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
        names = np.array(self.names)
        protos = np.stack([self.embeddings[names == c].mean(axis=0) for c in self.classes])
        return (protos / np.linalg.norm(protos, axis=1, keepdims=True)).astype(np.float32)


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
    path = model_dir / IMPOSTORS_NPZ
    if not path.is_file():
        raise EnrollError(f"{path}: missing (written by the pretrain stage)")
    data = np.load(path)
    keys = {name_key(n) for n in exclude}
    keep = np.array([name_key(str(n)) not in keys for n in data["names"]], dtype=bool)
    return data["embeddings"][keep]


def read_meta(backbone_path: Path) -> dict[str, Any]:
    """The backbone's input size, channels and the extract params its faces were cut with."""
    path = Path(backbone_path).with_name(META_JSON)
    try:
        meta = json.loads(path.read_text())
        meta["extract"] = ExtractParams.model_validate(meta["extract"])
        return meta
    except (OSError, ValueError, KeyError) as exc:
        raise EnrollError(f"{path}: not a backbone meta JSON ({type(exc).__name__}: {exc})") from exc


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
