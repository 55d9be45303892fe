"""Stage `train`: TFRecords → models/model.keras (+ meta, history, curves), one MLflow run."""

from starrec.stage import run_stage
from starrec.tracking import dataset_name
from starrec.train.train import train_and_log


def main(cfg):
    train_and_log(cfg.train, cfg.mlflow, cfg.paths.tfrecords, cfg.paths.augmented,
                  cfg.paths.models, extract=cfg.extract, augment=cfg.augment,
                  params=cfg.model_dump(mode="json", by_alias=True),
                  dataset=dataset_name(cfg.download))


if __name__ == "__main__":
    run_stage(main)
