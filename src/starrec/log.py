"""Logging set-up shared by the stages and the CLI (rich console handler, quiet TF)."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import logging
import os
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

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


@contextlib.contextmanager
def stderr_discarded() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null: C++ libraries write there directly, past
    Python's sys.stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with stderr_discarded():
            self.loader.exec_module(module)
        logging.getLogger("tensorflow").setLevel(logging.ERROR)


class QuietTensorflowImport(importlib.abc.MetaPathFinder):
    """Imports `tensorflow`, whenever and by whomever first imported (keras, a stage, the
    CLI), without its start-up lines: the absl lines its C++ writes to file descriptor 2
    before its logging is set up ("oneDNN custom operations are on", "All log messages
    before absl::InitializeLog()") ignore TF_CPP_MIN_LOG_LEVEL. Python errors of the import
    are exceptions, so they still show."""

    def find_spec(self, name: str, path: Any, target: Any = None
                  ) -> importlib.machinery.ModuleSpec | None:
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once; the real finders locate it
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_tensorflow_imports() -> None:
    """Install QuietTensorflowImport (once, and only if TensorFlow is not imported yet)."""
    if "tensorflow" not in sys.modules and not any(
            isinstance(f, QuietTensorflowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietTensorflowImport())
