"""DVC stage `download`: photos from params' `download.source` into `paths.raw`."""

from starrec.download import download
from starrec.stage import run_stage


def main(cfg):
    download(cfg.download, cfg.paths.raw)


if __name__ == "__main__":
    run_stage(main)
