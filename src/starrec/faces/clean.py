"""Clean scraped classes with face embeddings: flag faces that disagree with their class.

Photos filed under a star's name hold other people, non-faces and the same photo under two
names. A face is judged against its class *consensus*: the mean of the faces that agree with
the class medoid (cosine >= far_below), so a minority of wrong faces cannot pull it towards
themselves (a plain mean can). Flags, most specific first:

- `conflict`: the same face (near-identical embedding) also filed under another class; both
  copies are flagged naming the other class, since nothing here says which name is right (a
  group shot of two stars filed under both names is no conflict: each class keeps its star);
- `other_person`: a face of a multi-face photo that is not the photo's best match to its class
  (the class-matching face is kept, whatever its size);
- `nearer_other_class`: closer to another class's consensus than to its own;
- `far_from_class`: cosine to its class consensus below `far_below`.

Values in, values out: a stage merges the returned rows into its faces manifest.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from starrec.config import CleanParams
from starrec.faces.embed import l2_normalise
from starrec.faces.preview import write_preview

log = logging.getLogger(__name__)

FLAGS = ("conflict", "other_person", "nearer_other_class", "far_from_class")  # by precedence
COLUMNS = ["face_id", "class", "flag", "reason", "status", "cos_class", "nearest_class",
           "cos_nearest"]
BLOCK = 2048  # rows per block of the all-pairs duplicate search (bounds memory)


def class_consensus(x: np.ndarray, agree: float) -> np.ndarray:
    """Unit mean of the faces whose cosine to the class medoid (the face with the highest
    median cosine to the others) is at least `agree`."""
    medoid = x[np.median(x @ x.T, axis=1).argmax()]
    centre = x[x @ medoid >= agree].mean(axis=0)
    return centre / np.linalg.norm(centre)


def clean_faces(faces: pd.DataFrame, x: np.ndarray, cfg: CleanParams) -> pd.DataFrame:
    """One row per face of `faces` (columns face_id, class, photo; `x` its embeddings, same
    order): flag ('' when the face agrees with its class), reason, status (`ok`, or `excluded`
    for a flagged face under policy drop), cosine to its class consensus, the nearest other
    class and its cosine."""
    missing = {"face_id", "class", "photo"} - set(faces.columns)
    if missing:
        raise ValueError(f"faces: missing columns {sorted(missing)}")
    if len(faces) != len(x):
        raise ValueError(f"faces: {len(faces)} rows but {len(x)} embeddings")
    twice = faces["face_id"][faces["face_id"].duplicated()]
    if len(twice):
        raise ValueError(f"faces: face_id {twice.iloc[0]!r} appears more than once")
    if faces.empty:
        return pd.DataFrame(columns=COLUMNS)
    x = l2_normalise(x)
    ids = faces["face_id"].to_numpy(str)
    cls = faces["class"].to_numpy(str)
    names = sorted(set(cls))
    k = np.searchsorted(names, cls)
    groups = faces.groupby(["class", "photo"], sort=False).indices
    single = np.zeros(len(x), bool)
    for rows in groups.values():
        single[rows] = len(rows) == 1

    # consensus from single-face photos: in a group shot the star is not known yet
    centres = np.stack([class_consensus(x[(k == c) & single] if (single & (k == c)).any()
                                        else x[k == c], cfg.far_below)
                        for c in range(len(names))])
    sims = x @ centres.T
    own = sims[np.arange(len(x)), k]
    others = sims.copy()
    others[np.arange(len(x)), k] = -np.inf
    nearest = others.argmax(axis=1)
    cos_nearest = others.max(axis=1) if len(names) > 1 else np.full(len(x), np.nan)

    flag = np.full(len(x), "", dtype=object)
    reason = np.full(len(x), "", dtype=object)
    for i in range(len(x)):
        if len(names) > 1 and cos_nearest[i] >= cfg.far_below and cos_nearest[i] > own[i]:
            flag[i] = "nearer_other_class"
            reason[i] = (f"nearer_other_class ({names[nearest[i]]} {cos_nearest[i]:.2f} > "
                         f"{own[i]:.2f})")
        elif own[i] < cfg.far_below:
            flag[i] = "far_from_class"
            reason[i] = f"far_from_class (cos {own[i]:.2f} < {cfg.far_below:.2f})"
    for rows in groups.values():
        if len(rows) > 1:
            best = rows[own[rows].argmax()]
            for i in rows[rows != best]:
                flag[i] = "other_person"
                reason[i] = (f"other_person (cos {own[i]:.2f}; {ids[best]} of this photo "
                             f"matches {cls[i]} at {own[best]:.2f})")
    claimed = np.flatnonzero(flag != "other_person")  # each class's face of each photo
    for i, j, sim in _duplicates_across_classes(x[claimed], k[claimed], cfg.duplicate_above):
        i, j = claimed[i], claimed[j]
        flag[i] = "conflict"
        reason[i] = f"conflict (same face as {ids[j]} under {cls[j]}, cos {sim:.2f})"

    flagged = flag != ""
    out = pd.DataFrame({
        "face_id": ids, "class": cls, "flag": flag, "reason": reason,
        "status": np.where(flagged & (cfg.policy == "drop"), "excluded", "ok"),
        "cos_class": own.round(4),
        "nearest_class": [names[j] if len(names) > 1 else "" for j in nearest],
        "cos_nearest": cos_nearest.round(4)}, columns=COLUMNS)
    counts = out["flag"][flagged].value_counts()
    log.info("clean: %d of %d faces flagged (%s), policy %s", int(flagged.sum()), len(out),
             ", ".join(f"{counts.get(f, 0)} {f}" for f in FLAGS), cfg.policy)
    return out


def _duplicates_across_classes(x: np.ndarray, k: np.ndarray, above: float
                               ) -> list[tuple[int, int, float]]:
    """(i, j, cosine) for each face i with a face j of another class at cosine >= `above`
    (its closest such j), blockwise so a large set never holds the full N x N matrix."""
    found = []
    for start in range(0, len(x), BLOCK):
        sims = x[start:start + BLOCK] @ x.T
        sims[k[start:start + BLOCK, None] == k[None, :]] = -np.inf
        for r in np.flatnonzero(sims.max(axis=1) >= above):
            j = int(sims[r].argmax())
            found.append((start + int(r), j, float(sims[r, j])))
    return found


def swap_labels(classes: pd.Series, share: float, seed: int) -> tuple[pd.Series, np.ndarray]:
    """Label noise for measuring the cleaner: a seeded `share` of faces moved to another
    class drawn uniformly; returns the noisy labels and the mask of moved faces."""
    rng = np.random.default_rng(seed)
    names = np.array(sorted(classes.unique()))
    if len(names) < 2:
        raise ValueError(f"swap_labels: needs 2 classes or more, got {len(names)}")
    noisy = classes.to_numpy(str).copy()
    moved = np.zeros(len(noisy), bool)
    moved[rng.choice(len(noisy), round(share * len(noisy)), replace=False)] = True
    for i in np.flatnonzero(moved):
        noisy[i] = rng.choice(names[names != noisy[i]])
    return pd.Series(noisy, index=classes.index, name=classes.name), moved


def write_flagged_sheet(cleaned: pd.DataFrame, faces_dir: Path, out: Path, per_class: int) -> int:
    """Contact sheet of the flagged faces (the manifest's `path` column under `faces_dir`),
    a row per class, each face captioned with its reason; returns how many are shown. With
    nothing flagged the sheet is blank (a stage output exists either way)."""
    flagged = cleaned[cleaned["flag"] != ""]
    if flagged.empty:
        Image.new("RGB", (320, 40), "white").save(out)
        return 0
    caption = [f"{flag}\n{textwrap.fill(reason[len(flag) + 1:], 30)}"
               for flag, reason in zip(flagged["flag"], flagged["reason"], strict=True)]
    write_preview(flagged.assign(caption=caption), faces_dir, out, per_class,
                  title="flagged by clean (reason under each face)")
    return len(flagged.groupby("class").head(per_class))
