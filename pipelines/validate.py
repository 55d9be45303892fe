"""Stage `validate`: great-expectations checks of data/faces before the split."""

from starrec.dataset.validate import configured_classes, validate_faces
from starrec.stage import run_stage


def main(cfg):
    classes = configured_classes(cfg.download, cfg.paths.raw / "manifest.csv")
    validate_faces(cfg.validate_, cfg.paths.faces, classes, cfg.extract.image_size, cfg.paths.validation)


if __name__ == "__main__":
    run_stage(main)
