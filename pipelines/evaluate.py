from starrec.evaluate.evaluate import evaluate_model
from starrec.stage import run_stage


def main(cfg):
    evaluate_model(cfg.evaluate, cfg.mlflow, cfg.paths.tfrecords, cfg.paths.models,
                   cfg.paths.reports)


if __name__ == "__main__":
    run_stage(main)
