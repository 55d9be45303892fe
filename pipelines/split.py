"""Stage `split`: the validated faces of `paths.faces`, less what the embed stage's cleaning
took out (`paths.embeddings`/clean.csv) → leakage-free stratified train/val/test in
`paths.splits` (split.csv, stats.json, class_counts.png)."""

from __future__ import annotations

import pandas as pd

from starrec.artifacts import CLEAN_CSV, MANIFEST, SPLIT_CSV
from starrec.config import Config
from starrec.dataset.faces_manifest import read_faces_manifest
from starrec.dataset.split import drop_cleaned, split_faces
from starrec.dataset.split_plot import plot_split_counts
from starrec.errors import StageError
from starrec.io import atomic_dir, write_json_atomic
from starrec.stage import run_stage


def main(cfg: Config) -> None:
    manifest = cfg.paths.faces / MANIFEST
    clean_csv = cfg.paths.embeddings / CLEAN_CSV
    try:
        cleaned = pd.read_csv(clean_csv, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise StageError(f"{clean_csv}: cannot read the embed stage's cleaning ({exc})") from None
    faces = drop_cleaned(read_faces_manifest(manifest), cleaned, clean_csv)
    table, counts, stats = split_faces(cfg.split, faces, manifest)
    with atomic_dir(cfg.paths.splits) as out:
        table.to_csv(out / SPLIT_CSV, index=False)
        write_json_atomic(out / "stats.json", stats)
        plot_split_counts(counts, out / "class_counts.png")


if __name__ == "__main__":
    run_stage(main)
