"""Stage `pretrain`: face-embedding backbone on the public identities (datasets.public_faces)."""

from starrec.pretrain.stage import pretrain
from starrec.stage import run_stage


def main(cfg):
    pretrain(cfg.pretrain, cfg.extract, cfg.mlflow, cfg.pretrain.data,
             cfg.paths.raw / "manifest.csv", cfg.paths.models)


if __name__ == "__main__":
    run_stage(main)
