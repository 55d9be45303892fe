"""Nearest named star of each face: exact (one matrix product) for a small gallery, an HNSW
index above `ann_min_gallery` stars.

usearch rather than hnswlib or faiss-cpu: hnswlib has no wheel here (a C++ build on every
install), faiss-cpu is an 18 MB wheel for one index type we would use; usearch is a 2 MB
wheel with HNSW, cosine metric, f32 storage and save/restore of one file. Benchmark
(benchmarks/library_ann.py): 100k identities, p99 and recall@1 against exact search.

Uniform random unit vectors (the benchmark's 100k identities) are HNSW's hard case: with
f32 and M 16, ef 64 found the exact nearest star for 0.64 of the queries (ef 512: 0.97). The
index stores the vectors as int8 (`dtype`), which makes each distance cheap enough for M 32
and ef 256 (recall 0.998, p50 1 ms); the `RERANK` candidates it returns are re-scored
with the float32 prototypes, so the cosine compared with the threshold is exact.

The index file is named by the gallery's hash (names + prototypes), so a changed gallery
builds a new file and an old one is never used for it; files of earlier galleries are
removed when a new one is written.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from starrec.config import AnnParams
from starrec.io import atomic_path

log = logging.getLogger(__name__)
PREFIX, SUFFIX = "stars-", ".usearch"
RERANK = 4  # candidates per query re-scored exactly


def gallery_hash(names: list[str], prototypes: np.ndarray) -> str:
    h = hashlib.sha256("\n".join(names).encode())
    h.update(np.ascontiguousarray(prototypes, np.float32).tobytes())
    return h.hexdigest()


@dataclass
class NearestStar:
    """`query(x)`: (index of the nearest prototype, its cosine) per row of unit vectors."""

    prototypes: np.ndarray  # (K, D) unit norm
    index: object | None  # usearch Index, or None: exact search

    def query(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(x, np.float32)
        if not len(x) or not len(self.prototypes):
            return np.zeros(len(x), np.int64), np.full(len(x), -1.0)
        if self.index is None:
            sims = x @ self.prototypes.T
            best = sims.argmax(axis=1)
            return best, sims[np.arange(len(x)), best].astype(np.float64)
        k = min(RERANK, len(self.prototypes))
        keys = np.asarray(self.index.search(x, k).keys, np.int64).reshape(len(x), k)
        sims = np.einsum("nd,nkd->nk", x, self.prototypes[keys])
        best = sims.argmax(axis=1)
        rows = np.arange(len(x))
        return keys[rows, best], sims[rows, best].astype(np.float64)


def nearest_star(names: list[str], prototypes: np.ndarray, params: AnnParams,
                 min_gallery: int) -> NearestStar:
    """Exact search up to `min_gallery` stars; above, the HNSW index of this gallery from
    `params.dir` (built and saved there when the gallery changed)."""
    prototypes = np.ascontiguousarray(prototypes, np.float32)
    if len(prototypes) <= min_gallery:
        return NearestStar(prototypes, None)
    from usearch.index import Index

    path = Path(params.dir) / f"{PREFIX}{gallery_hash(names, prototypes)[:32]}{SUFFIX}"
    index = Index(ndim=prototypes.shape[1], metric="cos", dtype=params.dtype,
                  connectivity=params.connectivity, expansion_add=params.expansion_add,
                  expansion_search=params.expansion_search)
    if path.is_file():
        index.load(str(path))
        index.expansion_search = params.expansion_search
        return NearestStar(prototypes, index)
    log.info("building the nearest-star index of %d stars: %s", len(prototypes), path)
    index.add(np.arange(len(prototypes), dtype=np.int64), prototypes)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        index.save(str(tmp))
    for old in path.parent.glob(f"{PREFIX}*{SUFFIX}"):
        if old != path:
            old.unlink(missing_ok=True)
    return NearestStar(prototypes, index)
