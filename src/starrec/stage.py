"""Shared entry-point glue for `pipelines/<stage>.py`: logging, config, clean failure."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from starrec.artifacts import STARS
from starrec.config import Config, ConfigError, load_config
from starrec.errors import StageError
from starrec.log import setup_logging

log = logging.getLogger("starrec")
PARAMS = Path("params.yaml")


def run_stage(main: Callable[[Config], object]) -> None:
    """Load params.yaml once, run the stage's `main`, and turn a StageError into exit code 1.

    `--dataset NAME` merges that `datasets:` entry into `paths` and `download` (default: the
    star data set, which the model stages use).
    """
    setup_logging()
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=STARS, help="a `datasets:` entry of params.yaml")
    dataset = parser.parse_args().dataset
    try:
        main(load_config(PARAMS, dataset))
    except (StageError, ConfigError) as exc:
        log.error("%s", exc)
        sys.exit(1)
