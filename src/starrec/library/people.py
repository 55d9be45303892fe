"""`starrec clusters` and `starrec name`: the unknown faces grouped into would-be people,
each cluster with a contact sheet and, when its centre sits near a known person, a proposed
merge; a cluster or one face given a name (or told whose it is not), which enrols them in
the library's gallery and re-labels the library."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from starrec.config import LibraryParams
from starrec.io import atomic_path
from starrec.library import LibraryError
from starrec.library.cluster import NOISE, Merge, centroid, cluster_ids, merges, quality
from starrec.library.index import FaceTable, Index, faces, names
from starrec.library.labels import relabel
from starrec.library.sheets import contact_sheet, thumbnails
from starrec.predict.classifier import UNKNOWN

log = logging.getLogger(__name__)
CLUSTERS_DIR = "clusters"


@dataclass(frozen=True)
class Cluster:
    id: int
    face_ids: list[int]  # best quality first
    sheet: Path | None  # contact sheet PNG (None when no photo could be read)
    merge: Merge | None  # a known person whose prototype is near this cluster's centre

    @property
    def name(self) -> str:
        return f"c{self.id}"


def person_prototypes(table: FaceTable) -> tuple[list[str], np.ndarray]:
    """Every labelled person's prototype: the normalised mean of the faces so labelled."""
    labels = np.array([r["label"] for r in table.rows])
    people = sorted(set(labels) - {UNKNOWN})
    protos = [centroid(table.embeddings[labels == p]) for p in people]
    return people, np.array(protos, np.float32).reshape(len(people), table.embeddings.shape[1])


def find_clusters(index: Index, params: LibraryParams, max_pixels: int) -> list[Cluster]:
    """Cluster the unknown faces (ids stored in the index, largest cluster c1), write each
    cluster's contact sheet; returns them largest first."""
    table = index.face_table()
    unknown = [i for i, r in enumerate(table.rows) if r["label"] == UNKNOWN]
    ids = cluster_ids(table.embeddings[unknown], params.cluster)
    members = [{"_id": table.rows[i]["id"], "c": int(c)}
               for i, c in zip(unknown, ids, strict=True) if c != NOISE]
    with index.transaction() as conn:
        conn.execute(faces.update().values(cluster=None))
        if members:
            conn.execute(faces.update().where(faces.c.id == sa.bindparam("_id")).values(
                cluster=sa.bindparam("c")), members)
    people, protos = person_prototypes(table)
    out_dir = Path(params.out) / CLUSTERS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("c*.png"):
        old.unlink()
    clusters = []
    for cid in sorted(set(ids) - {NOISE}):
        rows = [table.rows[i] for i, c in zip(unknown, ids, strict=True) if c == cid]
        emb = table.embeddings[[i for i, c in zip(unknown, ids, strict=True) if c == cid]]
        rows.sort(key=lambda r: -quality(r["face_size"], r["blur"], r["det_score"]))
        merge = merges(centroid(emb)[None], people, protos, params.cluster.merge_cosine)[0]
        sheet = _sheet(rows[: params.cluster.sheet_faces], out_dir / f"c{cid}.png", max_pixels)
        clusters.append(Cluster(int(cid), [r["id"] for r in rows], sheet, merge))
    log.info("%d unknown faces: %d clusters, %d faces in none", len(unknown), len(clusters),
             int((ids == NOISE).sum()))
    return clusters


def _sheet(rows: list[dict], path: Path, max_pixels: int) -> Path | None:
    thumbs = thumbnails(rows, max_pixels)
    shown = [r for r in rows if r["id"] in thumbs]
    if not shown:
        return None
    with atomic_path(path) as tmp:
        contact_sheet([thumbs[r["id"]] for r in shown], [f"#{r['id']}" for r in shown]
                      ).save(tmp, format="PNG")
    return path


def name_target(index: Index, target: str, name: str, is_not: bool, params: LibraryParams
                ) -> dict:
    """`target` `cN` (a cluster of the last `clusters`) or a face id: give its faces `name`
    (or, `is_not`, record that they are not `name`), then re-label the library."""
    name = name.strip()
    if not name or name == UNKNOWN:
        raise LibraryError(f"{name!r}: not a name to give")
    ids = _target_faces(index, target)
    with index.transaction() as conn:  # one name per face; naming it X undoes "not X"
        replaced = names.c.name == name if is_not else (
            (names.c.name == name) | names.c.is_not.is_(False))
        conn.execute(names.delete().where(names.c.face_id.in_(ids), replaced))
        conn.execute(names.insert(), [{"face_id": i, "name": name, "is_not": is_not}
                                      for i in ids])
    changed = relabel(index, params)
    return {"faces": len(ids), "relabelled": changed,
            "labelled": index.count(faces, faces.c.label == name)}


def _target_faces(index: Index, target: str) -> list[int]:
    t = target.strip().lower()
    if t.startswith("c") and t[1:].isdigit():
        ids = index.face_table((faces.c.cluster == int(t[1:])) & (faces.c.label == UNKNOWN)).ids
        if not len(ids):
            raise LibraryError(f"{target}: no such cluster of unknown faces (run `starrec "
                               "clusters` to list them)")
        return [int(i) for i in ids]
    if t.isdigit():
        if not index.count(faces, faces.c.id == int(t)):
            raise LibraryError(f"{target}: no face with this id in {index.where}")
        return [int(t)]
    raise LibraryError(f"{target}: give a cluster (c3) or a face id (42)")
