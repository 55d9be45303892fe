"""Which public identities the backbone may learn from, and which are held out for verifying it.

Stars of the main data set are removed by name (`names.person_key`: case and separators
ignored) so that transfer and few-shot results on them are not inflated by having seen them
in pretraining.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from starrec.errors import StageError
from starrec.names import person_key


def target_names(path: Path) -> list[str]:
    """Star classes of the main data set: `class` of the ok rows of a raw/faces manifest.csv,
    or `classes` of a label_map.json."""
    path = Path(path)
    try:
        if path.suffix == ".json":
            return sorted(json.loads(path.read_text())["classes"])
        df = pd.read_csv(path, dtype=str)
        if "status" in df.columns:
            df = df[df["status"] == "ok"]
        return sorted(df["class"].dropna().unique())
    except (OSError, ValueError, KeyError) as exc:
        raise StageError(f"{path}: cannot read the star classes to exclude ({exc})") from exc


def excluded(names: Iterable[str], targets: Iterable[str]) -> list[str]:
    """The `names` that are one of the targets (by `person_key`)."""
    keys = {person_key(t) for t in targets}
    return sorted(n for n in names if person_key(n) in keys)


def split_people(names: Iterable[str], holdout: float, seed: int) -> tuple[list[str], list[str]]:
    """(train people, held-out people), split by person with a seeded shuffle; at least two
    people on each side (verification needs different-person pairs, ArcFace two classes)."""
    people = sorted(set(names))
    if len(people) < 4:
        raise StageError(f"need at least 4 identities to train and verify, got {len(people)}")
    n_out = min(max(2, round(holdout * len(people))), len(people) - 2)
    order = np.random.default_rng(seed).permutation(len(people))
    held = sorted(people[i] for i in order[:n_out])
    return sorted(set(people) - set(held)), held


def pretraining_people(names: np.ndarray, stars: list[str], holdout: float, seed: int
                       ) -> tuple[np.ndarray, np.ndarray, dict[str, list[str]]]:
    """Which faces (by person name) pretraining may see: the stars' people are left out (the
    backbone must not have met them), and a seeded share of the others is held out to verify
    the embedding on people it never trained on. Returns (kept faces, of those the training
    faces (bool masks), {"train", "held_out", "excluded"} people)."""
    dropped = excluded(set(names), stars)
    keep = ~np.isin(names, dropped)
    train_people, held_people = split_people(names[keep], holdout, seed)
    return keep, np.isin(names[keep], train_people), {
        "train": train_people, "held_out": held_people, "excluded": dropped}
