"""A photo library of real LFW photos for the library tests and benchmark: a gallery model
(the small SFace head of helpers.head with HEAD_PEOPLE enrolled as stars, its impostor bank
beside it), photo folders linked from LFW, and who each indexed face truly is."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from helpers.head import HEAD_PEOPLE, sface_model_with_impostors
from helpers.params import section
from starrec.artifacts import GALLERY_JSON
from starrec.enroll.enroll import enroll

STAR_PHOTOS = 12  # enrolled photos of each star: 0..11 (the library takes later ones)


def gallery_model(root: Path, lfw: Path) -> Path:
    """models/gallery.json under `root`: `enrol_stars` on a new `sface_model_with_impostors`."""
    return enrol_stars(sface_model_with_impostors(root, lfw), lfw)


def enrol_stars(model: Path, lfw: Path) -> Path:
    """HEAD_PEOPLE enrolled beside `model` from their first STAR_PHOTOS photos, unknown
    threshold calibrated on its impostor bank; returns the gallery.json."""
    predict = section("predict")
    for person in HEAD_PEOPLE:
        enroll(person, sorted((lfw / person).glob("*.jpg"))[:STAR_PHOTOS], model,
               section("enroll").unknown_accept, predict.max_image_pixels, predict.batch_size)
    return model.with_name(GALLERY_JSON)


def link_photos(dest: Path, lfw: Path, people: list[str], pick: slice) -> list[Path]:
    """Symlinks dest/<person>/<photo> to LFW photos `pick` of each person (sorted by name)."""
    out = []
    for person in people:
        (dest / person).mkdir(parents=True, exist_ok=True)
        for f in sorted((lfw / person).glob("*.jpg"))[pick]:
            (dest / person / f.name).symlink_to(f)
            out.append(dest / person / f.name)
    return out


def centre_truth(rows: list[dict]) -> np.ndarray:
    """The person (the photo's folder) of each photo's most central face, which is the one
    LFW is labelled by; None for the other faces of a photo (people in the background)."""
    best: dict[str, int] = {}
    off = [abs(r["box_x"] + r["box_w"] / 2 - 125) + abs(r["box_y"] + r["box_h"] / 2 - 125)
           for r in rows]  # LFW photos are 250x250, centred on the labelled face
    for i, r in enumerate(rows):
        if r["path"] not in best or off[i] < off[best[r["path"]]]:
            best[r["path"]] = i
    truth = np.array([None] * len(rows), dtype=object)
    for path, i in best.items():
        truth[i] = Path(path).parent.name
    return truth
