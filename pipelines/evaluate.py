from starrec.evaluate.evaluate import evaluate_model
from starrec.stage import run_stage
from starrec.train.models import BACKBONE_FILE


def main(cfg):
    backbone = cfg.paths.models / BACKBONE_FILE if cfg.evaluate.compare_pretrained else None
    evaluate_model(cfg.evaluate, cfg.mlflow, cfg.paths.tfrecords, cfg.paths.models,
                   cfg.paths.reports, backbone)


if __name__ == "__main__":
    run_stage(main)
