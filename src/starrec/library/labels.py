"""A face's label from what the library knows: the names given to faces (`starrec name`),
the people so named (the library's own gallery: a prototype each, and an unknown threshold
recalibrated against the impostor bank as `starrec enroll` does) and the model's answer.

Order: a name given to the face itself; else the nearest named person when the face's
cosine reaches the threshold; else the model's star; else `unknown`. The people a user named
come before the model's stars: on LFW-62 (benchmarks/library.py) the model's lax star
threshold had taken 51 of 422 new photos of five named people; a person's own prototype is
the more specific evidence. A name the face was said not to be (`name --not`) is never its
label.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from starrec.config import LibraryParams
from starrec.enroll import EnrollError
from starrec.enroll.gallery import Gallery, calibrate_threshold, load_impostors
from starrec.library import LibraryError
from starrec.library.ann import NearestStar, nearest_star
from starrec.library.index import FaceTable, Index
from starrec.predict.classifier import UNKNOWN


@dataclass(frozen=True)
class Stars:
    """The people named in the library: prototypes, calibrated threshold, nearest search."""

    names: list[str]
    prototypes: np.ndarray
    threshold: float
    search: NearestStar


def named_stars(table: FaceTable, named: dict[int, str], params: LibraryParams
                ) -> Stars | None:
    """The gallery of the faces given a name (None when none is)."""
    rows = [i for i, r in enumerate(table.rows) if r["id"] in named]
    if not rows:
        return None
    gallery = Gallery(table.embeddings[rows], [named[table.rows[i]["id"]] for i in rows])
    protos = gallery.prototypes()
    try:
        impostors = load_impostors(Path(params.impostors), gallery.classes, protos.shape[1])
        threshold = calibrate_threshold(protos, impostors, params.unknown_accept)
    except EnrollError as exc:
        raise LibraryError(f"library.impostors: {exc}") from exc
    return Stars(gallery.classes, protos, threshold,
                 nearest_star(gallery.classes, protos, params.ann, params.ann_min_gallery))


def final_labels(table: FaceTable, stars: Stars | None, named: dict[int, str],
                 refused: dict[int, set[str]]) -> list[dict]:
    """(id, label, score, threshold, label_source) of every face of `table`."""
    if stars is not None:
        nearest, cosine = stars.search.query(table.embeddings)
    out = []
    for i, row in enumerate(table.rows):
        fid, no = row["id"], refused.get(row["id"], set())
        if fid in named:
            label, score, threshold, source = named[fid], 1.0, 0.0, "named"
        elif (stars is not None and cosine[i] >= stars.threshold
              and stars.names[nearest[i]] not in no):
            label, score, source = stars.names[nearest[i]], float(cosine[i]), "gallery"
            threshold = stars.threshold
        elif row["model_label"] != UNKNOWN and row["model_label"] not in no:
            label, score, source = row["model_label"], row["model_score"], "model"
            threshold = row["model_threshold"]
        else:
            label, score, threshold = UNKNOWN, row["model_score"], row["model_threshold"]
            source = "not" if no else "model"
        out.append({"id": fid, "label": label, "score": float(score),
                    "threshold": float(threshold), "label_source": source})
    return out


def relabel(index: Index, params: LibraryParams) -> int:
    """Recompute every face's label from the stored model answers and the names given;
    returns how many changed."""
    table = index.face_table()
    named, refused = index.face_names()
    stars = named_stars(table, named, params)
    new = final_labels(table, stars, named, refused)
    changed = [n for n, r in zip(new, table.rows, strict=True)
               if (n["label"], n["label_source"]) != (r["label"], r["label_source"])
               or abs(n["score"] - r["score"]) > 1e-9
               or abs(n["threshold"] - r["threshold"]) > 1e-9]
    index.update_labels(changed)
    return len(changed)
