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
    classes = table.drop_duplicates("label").sort_values("label")["class"].tolist()
    parts = [table[table["split"] == split] for split in SPLITS]
    xs = embeddings_of(npz, *(part["face_id"].to_numpy(str) for part in parts), of=split_csv)
    return EmbeddingData(classes, dict(zip(SPLITS, xs, strict=True)),
                         {split: part["label"].to_numpy(np.int64)
                          for split, part in zip(SPLITS, parts, strict=True)})


def embeddings_of(npz: Path, *id_sets: np.ndarray, of: Path | None = None
                  ) -> list[np.ndarray]:
    """(N, dim) embeddings of each set of face ids, in their order, from one read of `npz`;
    a face missing is an error (`of`: the file the ids came from, named in it)."""
    ids, x = read_embeddings(npz)
    row = pd.Series(np.arange(len(ids)), index=ids)
    missing = [str(f) for f in np.concatenate(id_sets) if f not in row.index]
    if missing:
        raise EmbeddingDataError(f"{npz}: no embedding for face {missing[0]!r}"
                                 f"{f' of {of}' if of else ''} ({len(missing)} missing); "
                                 "re-run the embed stage")
    return [x[row[list(wanted)].to_numpy()] for wanted in id_sets]


def read_embeddings(npz: Path) -> tuple[np.ndarray, np.ndarray]:
    """(face ids, (N, dim) float32 embeddings) of one embed-stage file."""
    try:
        with np.load(npz, allow_pickle=False) as data:
            return data["face_id"].astype(str), np.asarray(data["x"], np.float32)
    except (OSError, KeyError, ValueError) as exc:
        raise EmbeddingDataError(f"{npz}: not an embeddings file ({exc})") from exc
