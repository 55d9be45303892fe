"""Nearest-star search: exact below `ann_min_gallery`, the usearch HNSW index above it, its
file keyed by the gallery's hash (reused while the gallery is the same, replaced when it
changes)."""

from __future__ import annotations

import numpy as np
from helpers.params import section

from starrec.library.ann import nearest_star

DIM = 128


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_exact_below_the_size_and_hnsw_above(tmp_path):
    rng = np.random.default_rng(0)
    protos = unit(rng.standard_normal((5000, DIM)))
    names = [f"p{i}" for i in range(len(protos))]
    params = section("library").ann.model_copy(update={"dir": tmp_path})
    who = rng.integers(0, len(protos), 300)
    queries = unit(protos[who] + unit(rng.standard_normal((300, DIM))) * 1.33)  # cosine ~0.6

    exact = nearest_star(names, protos, params, min_gallery=5000)
    assert exact.index is None and not list(tmp_path.iterdir())
    want, want_cos = exact.query(queries)
    assert (want == who).mean() > 0.99

    ann = nearest_star(names, protos, params, min_gallery=1000)
    files = list(tmp_path.glob("stars-*.usearch"))
    assert ann.index is not None and len(files) == 1
    got, got_cos = ann.query(queries)
    assert (got == want).mean() >= 0.99
    np.testing.assert_allclose(got_cos[got == want], want_cos[got == want], atol=1e-4)

    mtime = files[0].stat().st_mtime_ns
    again = nearest_star(names, protos, params, min_gallery=1000)
    assert list(tmp_path.glob("stars-*.usearch")) == files
    assert files[0].stat().st_mtime_ns == mtime  # the same gallery's file, loaded
    assert (again.query(queries)[0] == got).all()

    grown = nearest_star([*names, "new"], np.vstack([protos, unit(rng.standard_normal((1, DIM)))]),
                         params, min_gallery=1000)
    now = list(tmp_path.glob("stars-*.usearch"))
    assert len(now) == 1 and now != files  # rebuilt for the new gallery, the old file gone
    assert grown.index.size == 5001
