"""One name per track, and one name per unknown person.

A track's faces vote for their labels, each with its quality weight, so a few small,
blurred or doubtful faces cannot outvote the clear ones. Tracks voted `unknown` are grouped
by their mean embedding (agglomerative, average cosine linkage; tracks on screen together
are kept apart): one stranger seen in several shots is one cast member, `unknown-1`,
`unknown-2`, ... in order of appearance.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from starrec.faces.embed import l2_normalise
from starrec.predict.classifier import UNKNOWN
from starrec.video.observe import Observation
from starrec.video.tracks import Track


@dataclass(frozen=True)
class NamedTrack:
    id: int
    start: int  # first frame
    end: int  # last frame
    detections: int
    label: str  # a star, or unknown-k
    score: float  # the winning label's share of the quality-weighted votes
    # the track as one face (what the photo library indexes): its quality-weighted mean
    # embedding (unit norm) and its best face's frame, box and weight
    embedding: np.ndarray | None = field(default=None, repr=False)
    best: Observation | None = field(default=None, repr=False)


def vote(track: Track) -> tuple[str, float]:
    """The label with the most quality-weighted votes, and its share of them."""
    votes: dict[str, float] = defaultdict(float)
    for o in track.observations:
        votes[o.face.label] += o.weight
    total = sum(votes.values())
    label = max(sorted(votes), key=lambda k: votes[k])
    return label, votes[label] / total if total > 0 else 0.0


APART = 4.0  # the distance of two tracks on screen at once: two people, never one


def group_unknowns(embeddings: np.ndarray, spans: list[tuple[int, int]],
                   max_distance: float) -> list[int]:
    """A group number per row of unit embeddings; rows closer than `max_distance` (cosine
    distance, average linkage) share one, unless their frame spans overlap (two faces on
    screen at once are two people)."""
    if len(embeddings) < 2:
        return [0] * len(embeddings)
    dist = np.clip(1.0 - embeddings @ embeddings.T, 0.0, 2.0)
    for i, (s1, e1) in enumerate(spans):
        for j, (s2, e2) in enumerate(spans):
            if i != j and s1 <= e2 and s2 <= e1:
                dist[i, j] = APART
    return AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                   distance_threshold=max_distance).fit_predict(dist).tolist()


def name_tracks(tracks: list[Track], min_detections: int, max_distance: float
                ) -> list[NamedTrack]:
    """Tracks with at least `min_detections` faces, renumbered 1.. by start, each named."""
    kept = sorted((t for t in tracks if len(t.observations) >= min_detections),
                  key=lambda t: (t.start, t.id))
    votes = [vote(t) for t in kept]
    unknown = [k for k, (label, _) in enumerate(votes) if label == UNKNOWN]
    means = [np.mean([o.embedding for o in kept[k].observations], axis=0) for k in unknown]
    groups = group_unknowns(l2_normalise(np.stack(means)) if means else np.zeros((0, 1)),
                            [(kept[k].start, kept[k].end) for k in unknown], max_distance)
    order: dict[int, int] = {}  # group -> k of unknown-k, by first appearance
    for g in groups:
        order.setdefault(g, len(order) + 1)
    names = {k: f"{UNKNOWN}-{order[g]}" for k, g in zip(unknown, groups, strict=True)}
    return [NamedTrack(k + 1, t.start, t.end, len(t.observations), names.get(k, label), score,
                       weighted_mean(t), max(t.observations, key=lambda o: o.weight))
            for k, (t, (label, score)) in enumerate(zip(kept, votes, strict=True))]


def weighted_mean(track: Track) -> np.ndarray:
    """The track's faces' embeddings averaged by their quality weights, unit norm."""
    weights = np.array([max(o.weight, 1e-6) for o in track.observations])
    mean = np.average(np.stack([o.embedding for o in track.observations]), axis=0,
                      weights=weights)
    return l2_normalise(mean[None])[0]
