"""DVC stage `extract_faces`: faces of `paths.raw`'s photos into `paths.faces`."""

from starrec.faces.extract import extract_faces
from starrec.stage import run_stage


def main(cfg):
    extract_faces(cfg.extract, cfg.paths.raw, cfg.paths.faces)


if __name__ == "__main__":
    run_stage(main)
