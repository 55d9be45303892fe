"""The star faces as embeddings: split.csv joined with the embed stage's
`<embedder>.npz` (arrays `face_id`, `x`) on face_id, so training and scoring an embedding
head never re-run the embedding network."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from starrec.artifacts import SPLITS


class EmbeddingDataError(ValueError):
    """The split and the embeddings do not fit together (the message names the file)."""


@dataclass(frozen=True)
class EmbeddingData:
    classes: list[str]  # label order
    x: dict[str, np.ndarray]  # split -> (N, dim) float32
    y: dict[str, np.ndarray]  # split -> (N,) labels 0..K-1

    @property
    def sizes(self) -> dict[str, int]:
        return {split: len(y) for split, y in self.y.items()}


def load_embedding_data(split_csv: Path, npz: Path) -> EmbeddingData:
    """Every face of split.csv with its embedding; a face missing from `npz` is an error."""
    table = pd.read_csv(split_csv, dtype={"face_id": str})
    ids, x = read_embeddings(npz)
    row = pd.Series(np.arange(len(ids)), index=ids)
    missing = table.loc[~table["face_id"].isin(row.index), "face_id"]
    if len(missing):
        raise EmbeddingDataError(f"{npz}: no embedding for face {missing.iloc[0]!r} of "
                                 f"{split_csv} ({len(missing)} missing); re-run the embed stage")
    classes = table.drop_duplicates("label").sort_values("label")["class"].tolist()
    xs, ys = {}, {}
    for split in SPLITS:
        part = table[table["split"] == split]
        xs[split] = x[row[part["face_id"]].to_numpy()]
        ys[split] = part["label"].to_numpy(np.int64)
    return EmbeddingData(classes, xs, ys)


def embeddings_of(npz: Path, face_ids: np.ndarray) -> np.ndarray:
    """(N, dim) embeddings of `face_ids`, in their order; a face missing is an error."""
    ids, x = read_embeddings(npz)
    row = pd.Series(np.arange(len(ids)), index=ids)
    missing = [str(f) for f in face_ids if f not in row.index]
    if missing:
        raise EmbeddingDataError(f"{npz}: no embedding for face {missing[0]!r} "
                                 f"({len(missing)} missing); re-run the embed stage")
    return x[row[list(face_ids)].to_numpy()]


def read_embeddings(npz: Path) -> tuple[np.ndarray, np.ndarray]:
    """(face ids, (N, dim) float32 embeddings) of one embed-stage file."""
    try:
        with np.load(npz, allow_pickle=False) as data:
            return data["face_id"].astype(str), np.asarray(data["x"], np.float32)
    except (OSError, KeyError, ValueError) as exc:
        raise EmbeddingDataError(f"{npz}: not an embeddings file ({exc})") from exc
