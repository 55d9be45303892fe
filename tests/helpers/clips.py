"""Synthetic test videos made of real LFW photos: each shot one or two photos under a moving
camera (pan or zoom), hard cuts between shots, and the ground truth of who is on screen when.

A frame is the photo scaled and shifted onto a 640x480 canvas whose background is the same
photo stretched and blurred (no second, mirrored face for the detector to find).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

FPS = 25
SIZE = (640, 480)  # w, h


@dataclass(frozen=True)
class ShotSpec:
    people: tuple[str, ...]  # one face, or two side by side
    photos: tuple[int, ...]  # index of each person's photo (sorted by file name)
    motion: str  # pan | zoom
    frames: int
    # per person, the frames [from, to) of the shot they are in; None: all of it
    visible: tuple[tuple[int, int], ...] | None = None


@dataclass(frozen=True)
class Shot:
    people: tuple[str, ...]
    start: int  # first frame
    stop: int  # one past the last frame
    visible: tuple[tuple[int, int], ...]  # per person, frames [first, one past last) on screen

    @property
    def frames(self) -> int:
        return self.stop - self.start


def photo(lfw: Path, person: str, index: int) -> np.ndarray:
    return cv2.imread(str(sorted((lfw / person).glob("*.jpg"))[index]))


def _place(canvas: np.ndarray, img: np.ndarray, centre: tuple[float, float], scale: float) -> None:
    """Draw `img` scaled by `scale` with its centre at `centre` over `canvas` (in place)."""
    h, w = img.shape[:2]
    m = np.float32([[scale, 0, centre[0] - scale * w / 2], [0, scale, centre[1] - scale * h / 2]])
    cv2.warpAffine(img, m, (canvas.shape[1], canvas.shape[0]), dst=canvas,
                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT)


def background(img: np.ndarray) -> np.ndarray:
    """The photo stretched over the frame and blurred past recognition (once per shot)."""
    small = cv2.GaussianBlur(cv2.resize(img, (64, 48)), (0, 0), 3)
    return cv2.resize(small, SIZE, interpolation=cv2.INTER_LINEAR)


def render(images: list[np.ndarray], back: np.ndarray, motion: str, t: float,
           shown: list[bool] | None = None) -> np.ndarray:
    """One frame at shot time `t` in [0, 1]: a pan moves the photos 160 px left to right, a
    zoom scales them from 1.3x to 2.1x around a slowly drifting centre; the photos not
    `shown` are left out (a person who has not come in yet, or has left)."""
    w, h = SIZE
    canvas = back.copy()
    shown = shown or [True] * len(images)
    if len(images) == 1:
        if shown[0] and motion == "pan":
            _place(canvas, images[0], (240 + 160 * t, 250 - 20 * t), 1.7)
        elif shown[0]:
            _place(canvas, images[0], (w / 2 - 20 * t, h / 2 + 10 * t), 1.3 + 0.8 * t)
        return canvas
    scale = 1.1 if motion == "pan" else 1.0 + 0.2 * t
    for k, img in enumerate(images):
        if shown[k]:
            _place(canvas, img, (w * (0.27 + 0.46 * k) + 40 * t, h / 2), scale)
    return canvas


def write_clip(path: Path, lfw: Path, specs: list[ShotSpec], fourcc: str = "mp4v") -> list[Shot]:
    """Write the shots one after another at 25 fps 640x480; the shots' frame ranges back."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, SIZE)
    shots, start = [], 0
    for spec in specs:
        images = [photo(lfw, p, i) for p, i in zip(spec.people, spec.photos, strict=True)]
        back = background(images[0])
        visible = spec.visible or ((0, spec.frames),) * len(images)
        for f in range(spec.frames):
            writer.write(render(images, back, spec.motion, f / max(1, spec.frames - 1),
                                [a <= f < b for a, b in visible]))
        shots.append(Shot(spec.people, start, start + spec.frames,
                          tuple((start + a, start + b) for a, b in visible)))
        start += spec.frames
    writer.release()
    return shots


STAR_A, STAR_B = "Serena_Williams", "Vladimir_Putin"  # enrolled by the tests
STRANGER_1, STRANGER_2 = "Kofi_Annan", "Naomi_Watts"  # in no model, gallery or impostor bank
# 7 shots, 10.3 s: each star and each stranger twice, one shot with two faces
CAST_SHOTS = [
    ShotSpec((STAR_A,), (10,), "pan", 38),
    ShotSpec((STRANGER_1,), (0,), "zoom", 35),
    ShotSpec((STAR_B,), (10,), "pan", 40),
    ShotSpec((STAR_A, STRANGER_2), (13, 0), "pan", 36),
    ShotSpec((STRANGER_1,), (2,), "pan", 42),
    ShotSpec((STAR_B,), (12,), "zoom", 33),
    ShotSpec((STRANGER_2,), (3,), "zoom", 34),
]


def shot_of(frame: int, shots: list[Shot]) -> Shot:
    return next(s for s in shots if s.start <= frame < s.stop)


def strangers_named(tracks, shots: list[Shot], stars: set[str]) -> dict[str, str]:
    """Each stranger's cast name: the label of their first shot alone."""
    out: dict[str, str] = {}
    for s in shots:
        if len(s.people) == 1 and s.people[0] not in stars:
            out.setdefault(s.people[0], next((t.label for t in tracks
                                              if shot_of(t.start, shots) == s), "?"))
    return out


def named_right(tracks, shots: list[Shot], stars: set[str]) -> int:
    """Tracks (anything with .start and .label) whose label is right: a star's name, or for a
    stranger the one name they got throughout (per shot, labels matched as multisets)."""
    strangers = strangers_named(tracks, shots, stars)
    right = 0
    for shot in shots:
        expected = Counter(strangers.get(p, p) for p in shot.people)
        right += sum((expected & Counter(t.label for t in tracks
                                         if shot_of(t.start, shots) == shot)).values())
    return right
