"""Stratified train/val/test over leakage groups, so no face has a twin elsewhere.

Faces are joined into groups (connected components) when they share a file hash (exact
duplicates), a source photo (two faces cut from one picture), or have perceptual hashes within
`phash_max_distance` bits (near-duplicates: re-encodes, small shifts, brightness changes).
Whole groups go to one split. Per class, groups are dealt largest first (seeded order among
equal sizes) to the split furthest below its target count, which keeps every class within one
image of the ratios whenever the group sizes allow. A group holding faces of several classes
is dealt as its majority class (ties: first name), and each face still counts for its own class.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import imagehash
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from tqdm import tqdm

from starrec.artifacts import SPLITS
from starrec.config import SplitParams
from starrec.dataset.faces_manifest import ok_faces
from starrec.errors import StageError

log = logging.getLogger(__name__)

# split.csv; clean_reason: why the embed stage flagged a face it kept ('' when it did not)
SPLIT_COLUMNS = ("face_id", "class", "label", "path", "split", "group", "clean_reason")
BLOCK = 1024  # phash rows compared at once: BLOCK x n x hash-bytes of memory
FIX = ("; leave such classes out with download.classes or a higher "
       "download.min_images_per_class")


def drop_cleaned(faces: pd.DataFrame, cleaned: pd.DataFrame, where: Path) -> pd.DataFrame:
    """The ok faces minus those cleaning took out: `excluded` ones (policy drop) and the other
    people of group shots (`other_person`, never the star); a flagged face that stays keeps
    its reason (`clean_reason`) so a look at split.csv shows what is doubtful."""
    faces = ok_faces(faces)
    rows = cleaned.drop_duplicates("face_id").set_index("face_id").reindex(faces["face_id"])
    if rows["status"].isna().any():
        first = faces["face_id"][rows["status"].isna().to_numpy()].iloc[0]
        raise StageError(f"{where}: no row for face {first} (clean.csv is older than the "
                         "faces manifest: re-run the embed stage)")
    out = ((rows["status"] == "excluded") | (rows["flag"] == "other_person")).to_numpy()
    log.info("split: %d of %d faces left out by cleaning (%s)", int(out.sum()), len(faces),
             rows["flag"][out].value_counts().to_dict())
    return faces[~out].assign(clean_reason=rows["reason"].fillna("").to_numpy()[~out])


def split_faces(params: SplitParams, faces: pd.DataFrame, where: Path
                ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The ok faces of a faces manifest with `group`, `split` and `label` columns (sorted by
    face_id), the class x split counts and the stats; `where` names the manifest in errors."""
    faces = ok_faces(faces).sort_values("face_id", ignore_index=True)
    if faces.empty:
        raise StageError(f"{where}: no faces (status == ok) to split")
    ratios = {"train": params.train, "val": params.val, "test": params.test}
    _check_class_sizes(faces, where)
    group, merged = leakage_groups(faces, params.phash_max_distance, where)
    faces["group"] = group
    faces["split"] = assign_splits(faces["class"], faces["group"], ratios, params.seed)
    classes = sorted(faces["class"].unique())
    faces["label"] = faces["class"].map({name: i for i, name in enumerate(classes)})
    counts = pd.crosstab(faces["class"], faces["split"]).reindex(columns=list(SPLITS), fill_value=0)
    for name, row in counts.iterrows():
        if (row == 0).any():
            raise StageError(
                f"{where}: class {name!r} has {row.sum()} faces in "
                f"{faces.loc[faces['class'] == name, 'group'].nunique()} leakage groups, "
                f"too few to put one in each of {', '.join(SPLITS)}{FIX}")
    stats = {
        "classes": classes,
        "counts": {s: {c: int(counts.loc[c, s]) for c in classes} for s in SPLITS},
        "totals": {**{s: int(counts[s].sum()) for s in SPLITS}, "all": len(faces)},
        "ratios": ratios,
        "seed": params.seed,
        "groups": {"total": int(faces["group"].nunique()),
                   "multi_face": int((faces["group"].value_counts() > 1).sum()),
                   "merged": merged,
                   "phash_max_distance": params.phash_max_distance},
    }
    log.info("split %d faces (%d groups, merged: %s): %s", len(faces), stats["groups"]["total"],
             merged, stats["totals"])
    return faces[list(SPLIT_COLUMNS)], counts, stats


def _check_class_sizes(faces: pd.DataFrame, where: Path) -> None:
    sizes = faces["class"].value_counts()
    small = sizes[sizes < len(SPLITS)]
    if not small.empty:
        named = ", ".join(f"{name!r} ({n} faces)" for name, n in small.sort_index().items())
        raise StageError(f"{where}: too few faces to appear in every split "
                         f"({', '.join(SPLITS)}): {named}{FIX}")


def leakage_groups(faces: pd.DataFrame, phash_max_distance: int,
                   where: Path) -> tuple[np.ndarray, dict[str, int]]:
    """Group id per face, and how many groups each reason merged (applied in this order)."""
    n = len(faces)
    edges: list[np.ndarray] = []
    merged: dict[str, int] = {}
    components = n
    for reason, pairs in (("sha256", _same_value_pairs(faces["sha256"])),
                          ("source_photo", _same_value_pairs(faces["source_sha256"])),
                          ("phash", _near_pairs(_hash_bits(faces, where), phash_max_distance))):
        edges.append(pairs)
        all_pairs = np.concatenate(edges)
        graph = coo_matrix((np.ones(len(all_pairs)), (all_pairs[:, 0], all_pairs[:, 1])), shape=(n, n))
        count, labels = connected_components(graph, directed=False)
        merged[reason] = components - count
        components = count
    # renumber so group ids follow the (face_id-sorted) row order
    _, first = np.unique(labels, return_index=True)
    order = np.empty(count, dtype=int)
    order[np.argsort(first)] = np.arange(count)
    return order[labels], merged


def _same_value_pairs(values: pd.Series) -> np.ndarray:
    """(first row, other row) pairs for rows sharing a non-null value."""
    rows = pd.Series(np.arange(len(values)))
    first = rows.groupby(values.to_numpy(), dropna=True).transform("min")
    keep = (first.notna() & (first != rows)).to_numpy()
    return np.stack([first[keep].astype(int).to_numpy(), rows[keep].to_numpy()], axis=1)


def _hash_bits(faces: pd.DataFrame, where: Path) -> np.ndarray:
    """Perceptual hashes as packed bytes, one row per face."""
    packed = []
    for face_id, value in zip(faces["face_id"], faces["phash"]):
        try:
            packed.append(np.packbits(imagehash.hex_to_hash(value).hash.ravel()))
        except (TypeError, ValueError) as exc:
            raise StageError(f"{where}: face {face_id!r} has no valid phash "
                             f"({value!r}: {exc})") from exc
    if len({p.size for p in packed}) > 1:
        raise StageError(f"{where}: phash values have different lengths")
    return np.stack(packed)


def _near_pairs(bits: np.ndarray, max_distance: int) -> np.ndarray:
    """Pairs (i < j) whose Hamming distance is at most `max_distance`, in row blocks."""
    pairs = []
    for start in tqdm(range(0, len(bits), BLOCK), desc="phash pairs", leave=False,
                      disable=len(bits) <= BLOCK):
        block = bits[start:start + BLOCK]
        distance = np.bitwise_count(block[:, None, :] ^ bits[None, :, :]).sum(axis=2)
        i, j = np.nonzero(distance <= max_distance)
        keep = j > i + start
        pairs.append(np.stack([i[keep] + start, j[keep]], axis=1))
    return np.concatenate(pairs)


def assign_splits(classes: pd.Series, groups: pd.Series, ratios: dict[str, float],
                  seed: int) -> np.ndarray:
    """Split name per face: whole groups, dealt largest first to the neediest split."""
    _, codes = np.unique(classes.to_numpy(), return_inverse=True)
    _, group_of = np.unique(groups.to_numpy(), return_inverse=True)
    per_group = np.zeros((group_of.max() + 1, codes.max() + 1), dtype=int)  # faces per class
    np.add.at(per_group, (group_of, codes), 1)
    target = np.outer(per_group.sum(axis=0), list(ratios.values()))  # class x split
    have = np.zeros_like(target)
    order = np.random.default_rng(seed).permutation(len(per_group))
    choice = np.empty(len(per_group), dtype=int)
    for g in order[np.argsort(-per_group[order].sum(axis=1), kind="stable")]:
        owner = np.argmax(per_group[g])  # majority class; ties go to the first name
        choice[g] = np.argmax(target[owner] - have[owner])
        have[:, choice[g]] += per_group[g]
    return np.array(list(ratios))[choice[group_of]]
