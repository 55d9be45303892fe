"""The real `mlflow models serve` of a starrec pyfunc model on 127.0.0.1, started as a user
starts it: for the serving test and the load benchmark."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import urllib3

from starrec.servers import ServerError, free_port, stop_group, wait_started


def answers_ping(base: str) -> bool:
    """Whether the model server at `base` answers GET /ping."""
    try:
        return urllib3.request("GET", f"{base}/ping", retries=False,
                               timeout=urllib3.Timeout(connect=1.0, read=5.0)).status == 200
    except urllib3.exceptions.HTTPError:
        return False


@contextlib.contextmanager
def model_server(model_uri: str, tracking_uri: str, workers: int = 1,
                 timeout_s: float = 240) -> Iterator[str]:
    """Serve `model_uri` (resolved in `tracking_uri`) with `workers` processes on a free
    port; yields the base URL once /ping answers, and stops the whole process group after."""
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    base = f"http://127.0.0.1:{free_port()}"
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            [str(mlflow_bin), "models", "serve", "-m", model_uri, "--env-manager", "local",
             "-h", "127.0.0.1", "-p", base.rsplit(":", 1)[1], "-w", str(workers)],
            # as in an activated venv: the server execs `uvicorn` from PATH
            env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri,
                 "PATH": f"{mlflow_bin.parent}{os.pathsep}{os.environ.get('PATH', '')}"},
            start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
        try:
            if not wait_started(process, lambda: answers_ping(base), timeout_s, 1.0):
                out.seek(0)
                said = out.read().decode(errors="replace")[-3000:]
                raise ServerError(f"mlflow models serve {model_uri}: not answering {base}/ping "
                                  f"(exit {process.poll()}):\n{said}")
            yield base
        finally:
            stop_group(process, 20, "mlflow models serve")
