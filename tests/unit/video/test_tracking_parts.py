"""The pieces of `starrec cast` on small real inputs: a box carried by optical flow over a
real photo moved by a known amount, cuts between photos, assignment, the weighted vote,
grouping of unknown tracks, cast times."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.clips import background, photo, render
from helpers.params import section

from starrec.predict.recognize import FacePrediction
from starrec.video.cast import cast_table
from starrec.video.flow import carry, propagate, small_gray
from starrec.video.identity import NamedTrack, group_unknowns, vote
from starrec.video.observe import Observation
from starrec.video.shots import colour_hist, cut_distance
from starrec.video.tracks import Track, iou, match

VIDEO = section("video")


@pytest.fixture(scope="module")
def image(shared_datasets: Path) -> np.ndarray:
    return photo(shared_datasets / "lfw-subset", "Colin_Powell", 0)


def moved(img: np.ndarray, dx: float, dy: float, scale: float) -> np.ndarray:
    """`img` scaled by `scale` about its centre, then shifted by (dx, dy)."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 0, scale)
    m[:, 2] += (dx, dy)
    return cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize(("dx", "dy", "scale"), [(6, -4, 1.0), (0, 0, 1.08), (-3, 5, 0.95)])
def test_flow_carries_a_box_with_the_face(image, dx, dy, scale) -> None:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    box = (75, 70, 100, 110)  # the face of an LFW photo
    (x, y, w, h), = propagate(gray, cv2.cvtColor(moved(image, dx, dy, scale), cv2.COLOR_BGR2GRAY),
                              [box], VIDEO.flow_points)
    cx, cy = 125 + (box[0] + 50 - 125) * scale + dx, 125 + (box[1] + 55 - 125) * scale + dy
    assert x + w / 2 == pytest.approx(cx, abs=1.5) and y + h / 2 == pytest.approx(cy, abs=1.5)
    assert w == pytest.approx(100 * scale, abs=2) and h == pytest.approx(110 * scale, abs=2)


def test_carry_on_half_size_frames_keeps_frame_pixels(image) -> None:
    """The tracker's flow runs on half-size frames; boxes go in and come out in frame pixels."""
    big = cv2.resize(image, (500, 500))
    (x, y, w, h), = carry(small_gray(big), small_gray(moved(big, 12, -8, 1.0)),
                          [(150, 140, 200, 220)], VIDEO.flow_points)
    assert (x, y) == (pytest.approx(162, abs=3), pytest.approx(132, abs=3))
    assert (w, h) == (pytest.approx(200, abs=4), pytest.approx(220, abs=4))


def test_flow_loses_a_box_on_a_flat_image(image) -> None:
    flat = np.full((250, 250), 128, np.uint8)
    assert propagate(flat, flat, [(75, 70, 100, 110)], VIDEO.flow_points) == [None]


def test_cut_between_photos_not_within_a_pan(shared_datasets) -> None:
    lfw = shared_datasets / "lfw-subset"
    a, b = photo(lfw, "Colin_Powell", 0), photo(lfw, "Serena_Williams", 10)
    back = background(a)
    pan = [colour_hist(render([a], back, "pan", t)) for t in (0.0, 0.05)]
    other = colour_hist(render([b], background(b), "zoom", 0.0))
    assert cut_distance(*pan) < VIDEO.cut_distance < cut_distance(pan[1], other)


def test_iou_and_assignment_floor() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    sim = np.array([[0.9, 0.6], [0.8, 0.1]])  # tracks x observations
    # one-to-one with the best total (1.4), not track 0's greedy best (0.9 + 0.1)
    assert match(sim, 0.3) == [(0, 1), (1, 0)]
    assert match(sim, 0.7) == [(1, 0)]  # pairs under the floor are left unmatched


def obs(label: str, weight: float, embedding=(1.0, 0.0)) -> Observation:
    return Observation(0, (0, 0, 1, 1), weight, np.asarray(embedding, np.float32),
                       FacePrediction((0, 0, 1, 1), label, 0.9, 0.9))


def test_vote_weights_clear_faces_over_many_doubtful_ones() -> None:
    t = Track(1, (0, 0, 1, 1), 0, 0, 0,
              [obs("Ada", 0.9), obs("unknown", 0.2), obs("unknown", 0.2), obs("unknown", 0.2)])
    label, share = vote(t)
    assert label == "Ada" and share == pytest.approx(0.9 / 1.5)


def test_unknown_tracks_grouped_by_embedding() -> None:
    rng = np.random.default_rng(0)
    people = rng.normal(size=(2, 64))
    x = np.concatenate([p + 0.3 * rng.normal(size=(3, 64)) for p in people])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    apart = [(100 * k, 100 * k + 50) for k in range(6)]  # one shot after another
    groups = group_unknowns(x, apart, VIDEO.unknown_distance)
    assert groups[:3] == [groups[0]] * 3 and groups[3:] == [groups[3]] * 3
    assert groups[0] != groups[3]
    assert group_unknowns(x[:1], apart[:1], VIDEO.unknown_distance) == [0]


def test_unknown_tracks_on_screen_together_are_two_people() -> None:
    """Twins (one embedding) in one shot are two cast members; in two shots, one."""
    x = np.tile(np.eye(1, 8, dtype=np.float32), (2, 1))
    assert group_unknowns(x, [(0, 50), (40, 90)], VIDEO.unknown_distance) in ([0, 1], [1, 0])
    assert group_unknowns(x, [(0, 50), (60, 90)], VIDEO.unknown_distance) == [0, 0]


def test_cast_counts_overlapping_tracks_of_one_person_once() -> None:
    tracks = [NamedTrack(1, 0, 24, 5, "Ada", 1.0), NamedTrack(2, 10, 49, 8, "Ada", 1.0),
              NamedTrack(3, 100, 124, 5, "unknown-1", 1.0)]
    cast = cast_table(tracks, 25.0)
    assert cast.to_dict("records") == [
        {"star": "Ada", "first_seen_s": 0.0, "last_seen_s": 2.0, "seconds_on_screen": 2.0,
         "tracks": "1 2"},
        {"star": "unknown-1", "first_seen_s": 4.0, "last_seen_s": 5.0,
         "seconds_on_screen": 1.0, "tracks": "3"}]
    assert list(cast_table([], 25.0).columns) == ["star", "first_seen_s", "last_seen_s",
                                                  "seconds_on_screen", "tracks"]
