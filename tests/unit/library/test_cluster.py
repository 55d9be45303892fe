"""Clustering pieces: renumbering by size, the scores the benchmark and tests use, merge
proposals, and the label order of a face."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.params import section

from starrec.library.ann import NearestStar
from starrec.library.cluster import NOISE, bcubed, by_size, cluster_ids, merges, pairwise_precision
from starrec.library.index import FaceTable
from starrec.library.labels import Stars, final_labels


def test_by_size_numbers_largest_first_and_drops_small_groups():
    raw = np.array([7, 7, 3, 3, 3, 9, 5, 5])
    assert by_size(raw, 2).tolist() == [2, 2, 1, 1, 1, NOISE, 3, 3]


def test_scores_on_a_known_clustering():
    truth = np.array(["a", "a", "a", "b", "b", "c"])
    assert bcubed(truth, np.array([1, 1, 1, 2, 2, NOISE])) == (1.0, 1.0, 1.0)
    p, r, f = bcubed(truth, np.array([1, 1, 2, 2, 2, NOISE]))  # one "a" merged with the "b"s
    assert p == pytest.approx((1 + 1 + 1 / 3 + 2 / 3 + 2 / 3 + 1) / 6)
    assert r == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1 + 1) / 6)
    assert pairwise_precision(truth, np.array([1, 1, 2, 2, 2, NOISE])) == pytest.approx(2 / 4)
    assert pairwise_precision(truth, np.full(6, NOISE)) == 1.0


def test_cosine_clusters_of_unit_vectors():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((3, 64))
    x = np.repeat(centres, [5, 3, 1], axis=0) + 0.2 * rng.standard_normal((9, 64))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = cluster_ids(x, section("library").cluster)
    assert ids.tolist() == [1] * 5 + [2] * 3 + [NOISE]


def test_merge_proposed_only_near_a_person():
    protos = np.eye(3, dtype=np.float32)
    near = np.array([[0.9, 0.1, 0], [0.6, 0.6, 0.5]], np.float32)
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    got = merges(near, ["a", "b", "c"], protos, 0.8)
    assert got[0].name == "a" and got[0].cosine > 0.9
    assert got[1] is None


def test_label_order_named_then_library_person_then_model():
    emb = np.eye(4, dtype=np.float32)
    rows = [{"id": i, "model_label": m, "model_score": 0.9, "model_threshold": 0.5}
            for i, m in enumerate(["Star", "Star", "unknown", "unknown"])]
    protos = np.eye(4, dtype=np.float32)[[1, 2]]
    stars = Stars(["Ada", "Bob"], protos, 0.4, NearestStar(protos, None))
    out = final_labels(FaceTable(rows, emb), stars, {0: "Cy"}, {2: {"Bob"}})
    assert [(o["label"], o["label_source"]) for o in out] == [
        ("Cy", "named"), ("Ada", "gallery"), ("unknown", "not"), ("unknown", "model")]
