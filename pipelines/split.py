"""Stage `split`: the validated faces of `paths.faces` → leakage-free stratified
train/val/test in `paths.splits` (split.csv, stats.json, class_counts.png)."""

from __future__ import annotations

from starrec.artifacts import MANIFEST, SPLIT_CSV
from starrec.config import Config
from starrec.dataset.manifest import read_faces_manifest
from starrec.dataset.split import split_faces
from starrec.dataset.split_plot import plot_split_counts
from starrec.io import atomic_dir, write_json_atomic
from starrec.stage import run_stage


def main(cfg: Config) -> None:
    manifest = cfg.paths.faces / MANIFEST
    table, counts, stats = split_faces(cfg.split, read_faces_manifest(manifest), manifest)
    with atomic_dir(cfg.paths.splits) as out:
        table.to_csv(out / SPLIT_CSV, index=False)
        write_json_atomic(out / "stats.json", stats)
        plot_split_counts(counts, out / "class_counts.png")


if __name__ == "__main__":
    run_stage(main)
