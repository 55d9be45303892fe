"""Logging set-up shared by the stages and the CLI (rich console handler, quiet TF)."""

from __future__ import annotations

import logging
import os

from rich.logging import RichHandler

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "DVC_NO_ANALYTICS": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "GIT_PYTHON_REFRESH": "quiet",
}


def setup_logging(level: int | str = logging.INFO) -> None:
    """Route `logging` through rich and silence chatty third-party loggers."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(rich_tracebacks=True, show_path=False)],
        force=True,
    )
    for name in ("urllib3", "PIL", "matplotlib", "absl", "tensorflow", "h5py", "alembic",
                 "great_expectations", "mlflow", "git"):
        logging.getLogger(name).setLevel(logging.WARNING)
