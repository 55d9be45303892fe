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
import threading
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types import ColSpec, Schema

from starrec.artifacts import MODEL, MODEL_META, OPEN_SET
from starrec.calibrate.rule import load_rule
from starrec.config import PredictParams
from starrec.faces.model_files import resolve_model_file
from starrec.faces.detectors import YunetDetector
from starrec.faces.embed import face_model_files
from starrec.faces.image import UnreadableImage, decode_rgb
from starrec.model_meta import read_meta
from starrec.predict.model_io import load_classifier
from starrec.predict.recognize import Predictor
from starrec.tracking import pip_requirements

log = logging.getLogger(__name__)
IMAGE_COLUMN = "image"
SIGNATURE = ModelSignature(inputs=Schema([ColSpec("string", IMAGE_COLUMN)]))


def _bad(message: str) -> MlflowException:
    return MlflowException(message, error_code=INVALID_PARAMETER_VALUE)


class StarPyfunc(mlflow.pyfunc.PythonModel):
    """Artifacts: `model` (.keras), `meta` (model_meta.json), `open_set` (open_set.json),
    and the verified face-model files the model stands on (`yunet`, `sface`)."""

    def __init__(self, max_image_bytes: int, max_image_pixels: int, top_k: int,
                 batch_size: int) -> None:
        self.max_image_bytes = max_image_bytes
        self.max_image_pixels = max_image_pixels
        self.top_k = top_k
        self.batch_size = batch_size
        self.predictor: Predictor | None = None

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        art = context.artifacts
        classifier = load_classifier(art["model"], art["meta"], self.batch_size,
                                     art.get("sface"))
        detector = None
        if "yunet" in art:  # the logged copy: serving needs no face-model package
            detector = YunetDetector(classifier.extract.yunet,
                                     resolve_model_file("yunet", art["yunet"]))
        self.predictor = Predictor(classifier, load_rule(art["open_set"], art["model"]),
                                   self.top_k, detector)
        # the server calls predict from several threads; OpenCV's detector and embedder keep
        # per-call state (input size, blobs), so concurrent calls gave wrong faces under
        # load (benchmarks/serve_load.py). Worker processes (`-w N`) are the parallelism.
        self.lock = threading.Lock()

    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """One result per row: {"faces": [{box, label, confidence, score, top}], "n_faces"}."""
        if not isinstance(model_input, pd.DataFrame) or IMAGE_COLUMN not in model_input:
            raise _bad(f"payload needs a column {IMAGE_COLUMN!r} of base64-encoded images")
        results = []
        for i, value in enumerate(model_input[IMAGE_COLUMN]):
            rgb = self._decode(i, value)
            with self.lock:
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
            return decode_rgb(data, self.max_image_pixels)
        except UnreadableImage as exc:
            raise _bad(f"row {row}: {exc}") from exc


def face_model_names(model_dir: Path) -> list[str]:
    """The pretrained face-model files (faces/model_files names) the model in `model_dir` runs
    on at prediction: its detector's and its embedder's."""
    meta = read_meta(model_dir / MODEL_META)
    return face_model_files(meta.extract.detector, meta.embedder)


def log_pyfunc(model_dir: Path, params: PredictParams, face_files: dict[str, Path]):
    """Log the pyfunc model (model.keras, model_meta.json and open_set.json of `model_dir`,
    and `face_files`: verified face-model files by name, see `face_model_names`) into the
    active run as `pyfunc` and register it under `params.registered_model`; returns mlflow's
    ModelInfo."""
    import starrec

    package_dir = Path(starrec.__file__).parent
    return mlflow.pyfunc.log_model(
        name="pyfunc",
        python_model=StarPyfunc(params.max_image_bytes, params.max_image_pixels, params.top_k,
                                params.batch_size),
        artifacts={"model": str(model_dir / MODEL), "meta": str(model_dir / MODEL_META),
                   "open_set": str(model_dir / OPEN_SET),
                   **{name: str(path) for name, path in face_files.items()}},
        code_paths=[str(package_dir)],
        signature=SIGNATURE,
        pip_requirements=pip_requirements(),
        registered_model_name=params.registered_model,
    )


def encode_image(path: str | Path) -> str:
    """A photo file as the base64 string the server expects (for clients and tests)."""
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def request_json(images: list[str]) -> str:
    """The /invocations body for base64 images."""
    return json.dumps({"dataframe_split": {"columns": [IMAGE_COLUMN], "data": [[i] for i in images]}})

