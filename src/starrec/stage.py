"""Shared entry-point glue for `pipelines/<stage>.py`: logging, config, clean failure."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from starrec.config import Config, ConfigError, load_config
from starrec.log import setup_logging

log = logging.getLogger("starrec")


class StageError(RuntimeError):
    """The stage cannot go on; the message is one line naming the file and the reason."""


def run_stage(body: Callable[[Config], object], params: str | Path = "params.yaml") -> None:
    """Load params once, run the stage body, and turn a StageError into exit code 1.

    `--dataset NAME` on the command line selects a `datasets:` entry of params.yaml.
    """
    setup_logging()
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default=None, help="a `datasets:` entry of params.yaml")
    dataset = parser.parse_args().dataset
    try:
        body(load_config(params, dataset))
    except (StageError, ConfigError) as exc:
        log.error("%s", exc)
        sys.exit(1)
