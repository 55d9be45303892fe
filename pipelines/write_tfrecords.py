"""Stage `write_tfrecords`: split faces → sharded TFRecords + label_map.json + schema.json."""

from starrec.config import Config
from starrec.dataset.tfrecords import write_tfrecords
from starrec.stage import run_stage


def main(cfg: Config) -> None:
    write_tfrecords(cfg.tfrecords, cfg.paths.faces, cfg.paths.splits / "split.csv", cfg.paths.tfrecords)


if __name__ == "__main__":
    run_stage(main)
