"""The enrolled stars beside the model they were enrolled on: `gallery.npz` (one embedding
per enrolled face, its star and source photo) and `gallery.json` (the model file and embedder
the vectors were made with, classes, photo counts, the calibrated unknown threshold).

A star's prototype is the normalised mean of its face embeddings; a face is scored by its
cosine similarity to every prototype. The `unknown` threshold is recalibrated on every change
so that at most `unknown_accept` of the faces of people never enrolled (the model's impostor
bank: held-out people's embeddings by the same embedder) pass it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from starrec.artifacts import GALLERY_JSON, GALLERY_NPZ
from starrec.enroll import EnrollError
from starrec.enroll.source import EmbeddingSource
from starrec.faces.embed import prototypes
from starrec.io import atomic_path, write_json_atomic
from starrec.names import person_key

log = logging.getLogger(__name__)


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
        stack = [self.embeddings, embeddings] if self.names else [embeddings]
        self.embeddings = np.concatenate(stack).astype(np.float32)
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


def write_impostors(path: Path, embeddings: np.ndarray, names: list[str]) -> None:
    """An impostor bank: embeddings (N, D) of held-out people's faces and their names."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, embeddings=np.asarray(embeddings, np.float32), names=np.array(names, str))


def load_impostors(path: Path, exclude: list[str], dim: int) -> np.ndarray:
    """The impostor bank's embeddings, minus any person whose name matches an enrolled star."""
    if not path.is_file():
        raise EnrollError(f"{path}: no impostor bank yet; run dvc repro first")
    with np.load(path) as data:
        embeddings, names = data["embeddings"], data["names"]
    if embeddings.shape[1:] != (dim,):
        raise EnrollError(f"{path}: {embeddings.shape[1:]} embeddings, the gallery's are "
                          f"({dim},); run dvc repro first")
    keys = {person_key(n) for n in exclude}
    keep = np.array([person_key(str(n)) not in keys for n in names], dtype=bool)
    return embeddings[keep]


def read_record(model_dir: Path) -> dict[str, Any] | None:
    """gallery.json in `model_dir`, or None when no star is enrolled there."""
    path = Path(model_dir) / GALLERY_JSON
    return json.loads(path.read_text()) if path.is_file() else None


def check_record(record: dict[str, Any] | None, source: EmbeddingSource) -> None:
    """Refuse a gallery whose vectors another model or embedder made."""
    if record is None:
        return
    path = source.model.with_name(GALLERY_JSON)
    if record["model"] != source.model.name:
        raise EnrollError(f"{path}: stars enrolled on {record['model']} (embedder "
                          f"{record['embedder']}); use --model {path.with_name(record['model'])}")
    if record["embedder_sha256"] != source.embedder_sha256:
        raise EnrollError(f"{path}: enrolled with another {record['embedder']} "
                          f"({record['embedder_sha256'][:12]}, now "
                          f"{source.embedder_sha256[:12]}); unenroll and enrol the stars again")


def load_gallery(source: EmbeddingSource) -> Gallery:
    """The gallery beside the source's model (checked against it), or an empty one."""
    check_record(read_record(source.model.parent), source)
    path = source.model.with_name(GALLERY_NPZ)
    if not path.is_file():
        return Gallery(np.zeros((0, 0), dtype=np.float32))
    with np.load(path) as data:
        return Gallery(data["embeddings"].astype(np.float32), [str(n) for n in data["names"]],
                       [str(s) for s in data["sources"]])


def save_gallery(gallery: Gallery, source: EmbeddingSource,
                 unknown_accept: float) -> dict[str, Any]:
    """Write gallery.npz and gallery.json beside the model (threshold recalibrated); an empty
    gallery removes both files."""
    npz, meta_path = source.model.with_name(GALLERY_NPZ), source.model.with_name(GALLERY_JSON)
    if not gallery.names:
        npz.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
        return {"classes": [], "threshold": None}
    protos = gallery.prototypes()
    impostors = load_impostors(source.impostors, gallery.classes, protos.shape[1])
    threshold = calibrate_threshold(protos, impostors, unknown_accept)
    with atomic_path(npz) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, embeddings=gallery.embeddings, names=np.array(gallery.names),
                 sources=np.array(gallery.sources))
    meta = {"model": source.model.name, "embedder": source.embedder,
            "embedder_sha256": source.embedder_sha256, "classes": gallery.classes,
            "threshold": threshold, "score": "max_prob", "unknown_accept": unknown_accept,
            "n_impostors": len(impostors),
            "photos": {c: gallery.names.count(c) for c in gallery.classes}}
    write_json_atomic(meta_path, meta)
    return meta
