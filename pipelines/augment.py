"""Stage `augment`: train TFRecords → augmented train_aug shards + augment_preview.png."""

from starrec.config import Config
from starrec.dataset.augment import augment
from starrec.stage import run_stage


def main(cfg: Config) -> None:
    augment(cfg.augment, cfg.paths.tfrecords, cfg.paths.augmented)


if __name__ == "__main__":
    run_stage(main)
