"""The MLflow pyfunc model: base64 photos in, named faces out.

Wraps detection + preprocessing + classifier + open-set threshold, so
`mlflow models serve -m models:/<name>@champion` needs nothing but the logged artifacts.
Bad payloads raise MlflowException(INVALID_PARAMETER_VALUE): the server answers 400 with
the message instead of a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types import ColSpec, Schema

from starrec.config import PredictParams
from starrec.predict.recognize import ImageError, Predictor, decode_image

log = logging.getLogger(__name__)
IMAGE_COLUMN = "image"
SIGNATURE = ModelSignature(inputs=Schema([ColSpec("string", IMAGE_COLUMN)]))


def _bad(message: str) -> MlflowException:
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


class StarPyfunc(mlflow.pyfunc.PythonModel):
    """Artifacts: `model` (.keras), `meta` (model_meta.json), `open_set` (open_set.json)."""

    def __init__(self, max_image_bytes: int, max_image_pixels: int, top_k: int = 3) -> None:
        self.max_image_bytes = max_image_bytes
        self.max_image_pixels = max_image_pixels
        self.top_k = top_k
        self.predictor: Predictor | None = None

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        from starrec.predict.classifier import OpenSetRule
        from starrec.predict.model_io import KerasClassifier

        art = context.artifacts
        classifier = KerasClassifier.from_files(art["model"], art["meta"])
        self.predictor = Predictor(classifier, OpenSetRule.from_json(art["open_set"]), self.top_k)

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One result per row: {"faces": [{box, label, confidence, score, top}], "n_faces"}."""
        if not isinstance(model_input, pd.DataFrame) or IMAGE_COLUMN not in model_input:
            raise _bad(f"payload needs a column {IMAGE_COLUMN!r} of base64-encoded images")
        results = []
        for i, value in enumerate(model_input[IMAGE_COLUMN]):
            rgb = self._decode(i, value)
            faces = [f.to_json() for f in self.predictor(rgb)]
            results.append({"n_faces": len(faces), "faces": faces})
        return results

    def _decode(self, row: int, value: Any):
        if not isinstance(value, str):
            raise _bad(f"row {row}: {IMAGE_COLUMN!r} must be a base64 string, "
                       f"got {type(value).__name__}")
        if len(value) > self.max_image_bytes * 4 // 3 + 4:
            raise _bad(f"row {row}: image too large ({len(value)} base64 chars; the limit "
                       f"is {self.max_image_bytes} bytes)")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _bad(f"row {row}: not valid base64 ({exc})") from exc
        try:
            return decode_image(data, self.max_image_pixels)
        except ImageError as exc:
            raise _bad(f"row {row}: {exc}") from exc


def log_pyfunc(model_dir: Path, params: PredictParams, name: str = "pyfunc"):
    """Log the pyfunc model into the active run and register it under
    `params.registered_model`; returns mlflow's ModelInfo."""
    import starrec

    package_dir = Path(starrec.__file__).parent
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=StarPyfunc(params.max_image_bytes, params.max_image_pixels, params.top_k),
        artifacts={"model": str(model_dir / "model.keras"),
                   "meta": str(model_dir / "model_meta.json"),
                   "open_set": str(model_dir / "open_set.json")},
        code_paths=[str(package_dir)],
        signature=SIGNATURE,
        pip_requirements=_requirements(),
        registered_model_name=params.registered_model,
    )


def _requirements() -> list[str]:
    """Pinned to what runs here, so a served model gets the same stack (no slow inference)."""
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in ("mlflow", "keras", "tensorflow-cpu", "opencv-python-headless", "mtcnn",
                "numpy", "pandas", "pillow", "pydantic", "pyyaml"):
        try:
            out.append(f"{pkg}=={version(pkg)}")
        except PackageNotFoundError:
            continue
    return out


def encode_image(path: str | Path) -> str:
    """A photo file as the base64 string the server expects (for clients and tests)."""
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def request_json(images: list[str]) -> str:
    """The /invocations body for base64 images."""
    return json.dumps({"dataframe_split": {"columns": [IMAGE_COLUMN], "data": [[i] for i in images]}})
