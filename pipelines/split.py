"""Stage `split`: leakage-free stratified train/val/test split of the validated faces."""

from starrec.dataset.split import split_faces
from starrec.stage import run_stage


def main(cfg):
    split_faces(cfg.split, cfg.paths.faces / "manifest.csv", cfg.paths.splits)


if __name__ == "__main__":
    run_stage(main)
