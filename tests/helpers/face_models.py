"""Fixtures for the model tests on real faces: the repo's params, real model files (resolved
through the verified loader), real photos from ../shared/datasets, and SFace embeddings of
LFW photos computed once (pytest's cache keeps them between sessions, keyed by the model
files and the photos, so 2 shared CPU cores do not re-embed ~800 faces on every run)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from starrec.config import Config, load_config
from starrec.faces.model_files import ARTIFACTS, model_file
from starrec.faces.detectors import Detection, YunetDetector, detect_scaled
from starrec.faces.embed import SfaceEmbedder
from starrec.faces.image import decode_rgb

STARS = 12  # LFW people with the most photos: the "classes"; the first 7 are LFW-7 (>= 70)
STAR_PHOTOS = 40  # photos embedded per star
OTHER_PHOTOS = 6  # photos embedded per other LFW person (the unknown people)


@pytest.fixture(scope="session")
def cfg(repo_root: Path) -> Config:
    return load_config(repo_root / "params.yaml")


@pytest.fixture(scope="session")
def yunet(cfg: Config) -> YunetDetector:
    return YunetDetector(cfg.extract.yunet, model_file("yunet", cfg.faces.models, None))


@pytest.fixture(scope="session")
def sface(cfg: Config) -> SfaceEmbedder:
    return SfaceEmbedder(model_file("sface", cfg.faces.models, None))


@pytest.fixture(scope="session")
def lfw(shared_datasets: Path) -> Path:
    return shared_datasets / "lfw-subset"


@dataclass(frozen=True)
class Embedded:
    """SFace embeddings of the central face of LFW photos (LFW centres the named person)."""

    x: np.ndarray  # (N, 128) float32, unit norm
    people: np.ndarray  # (N,) str
    files: np.ndarray  # (N,) photo file name, unique

    def take(self, mask: np.ndarray) -> Embedded:
        return Embedded(self.x[mask], self.people[mask], self.files[mask])

    def of(self, people: list[str], per_person: int | None = None) -> Embedded:
        """The faces of `people`, the first `per_person` photos of each (by file name)."""
        keep = np.zeros(len(self.x), bool)
        for who in people:
            keep[np.flatnonzero(self.people == who)[:per_person]] = True
        return self.take(keep)


def central(faces: list[Detection], shape: tuple[int, ...]) -> Detection:
    h, w = shape[:2]
    return min(faces, key=lambda d: (d.box[0] + d.box[2] / 2 - w / 2) ** 2
               + (d.box[1] + d.box[3] / 2 - h / 2) ** 2)


def lfw_people(lfw: Path) -> list[str]:
    """Every LFW person, the ones with most photos first (ties by name)."""
    counts = {d.name: len(list(d.glob("*.jpg"))) for d in lfw.iterdir() if d.is_dir()}
    return sorted(counts, key=lambda name: (-counts[name], name))


@pytest.fixture(scope="session")
def lfw_sface(lfw: Path, yunet: YunetDetector, sface: SfaceEmbedder, cfg: Config,
              pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Embedded:
    """`STAR_PHOTOS` photos of each of the `STARS` LFW people with the most photos and
    `OTHER_PHOTOS` of every other person; a photo without a face is skipped."""
    people = lfw_people(lfw)
    files = [f for i, who in enumerate(people) for f in
             sorted((lfw / who).glob("*.jpg"))[:STAR_PHOTOS if i < STARS else OTHER_PHOTOS]]
    key = hashlib.sha256(json.dumps([
        ARTIFACTS["yunet"].sha256, ARTIFACTS["sface"].sha256, cfg.extract.yunet.model_dump(),
        cfg.extract.detect_max_side,
        [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files],
    ]).encode()).hexdigest()[:16]
    # pytest's cache keeps them between runs; CI runs with `-p no:cacheprovider`
    cache = getattr(pytestconfig, "cache", None)
    cached = (cache.mkdir("starrec_lfw_sface") if cache else tmp_path_factory.mktemp("sface")) \
        / f"{key}.npz"
    if cached.is_file():
        with np.load(cached) as data:
            return Embedded(data["x"], data["people"], data["files"])
    x, who, names = [], [], []
    for f in files:
        rgb = decode_rgb(f)
        found = detect_scaled(yunet, rgb, cfg.extract.detect_max_side, 1)
        if found:
            x.append(sface.embed(sface.prepare(rgb, central(found, rgb.shape))[None])[0])
            who.append(f.parent.name)
            names.append(f.name)
    out = Embedded(np.asarray(x, np.float32), np.asarray(who), np.asarray(names))
    partial = cached.with_suffix(".partial.npz")  # a killed run leaves no broken cache
    np.savez(partial, x=out.x, people=out.people, files=out.files)
    partial.replace(cached)
    return out


@pytest.fixture(scope="session")
def lfw_stars(lfw: Path) -> list[str]:
    """The `STARS` LFW people with the most photos (the first 7: LFW-7)."""
    return lfw_people(lfw)[:STARS]
