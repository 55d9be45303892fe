"""Any starrec model as a `Predictor`: a runs:/ or models:/ URI of the pyfunc model, a local
.keras file with its meta JSON (and open_set.json) beside it, or the gallery.json of the
stars `starrec enroll` added beside a model."""

from __future__ import annotations

from pathlib import Path

from starrec.artifacts import GALLERY_JSON
from starrec.enroll import EnrollError
from starrec.enroll.prototypes import load_prototype_predictor
from starrec.predict.model_io import ModelLoadError, load_keras_predictor
from starrec.predict.recognize import Predictor
from starrec.tracking import sqlite_file


def load_predictor(uri: str, top_k: int, batch_size: int) -> Predictor:
    """`uri`: a local .keras path, a gallery.json, or a runs:/ / models:/ URI of a starrec
    pyfunc model."""
    if uri.startswith(("runs:/", "models:/")) or "://" in uri:
        return _load_pyfunc(uri, top_k)
    if Path(uri).name == GALLERY_JSON:
        try:
            return load_prototype_predictor(uri, top_k, batch_size)
        except (EnrollError, OSError, ValueError) as exc:
            raise ModelLoadError(str(exc)) from exc
    if Path(uri).suffix != ".keras":
        raise ModelLoadError(f"{uri}: not a starrec model; give a .keras file (its meta JSON "
                             f"beside it), a {GALLERY_JSON}, or a models:/ or runs:/ URI")
    return load_keras_predictor(uri, top_k, batch_size)


def _load_pyfunc(uri: str, top_k: int) -> Predictor:
    import mlflow.pyfunc

    from starrec.serve.pyfunc import StarPyfunc

    store = mlflow.get_tracking_uri()
    where = (f"; looked in the MLflow store {store}: run in the project folder, set "
             f"MLFLOW_TRACKING_URI to your store or server, or pass --model FILE.keras")
    db = sqlite_file(store)
    if uri.startswith(("models:/", "runs:/")) and db is not None and not db.is_file():
        # mlflow would create an empty store there and then not find the model
        raise ModelLoadError(f"{uri}: no MLflow store at {db}{where}")
    try:
        wrapper = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    except Exception as exc:  # noqa: BLE001 - mlflow raises many types; one clear line
        raise ModelLoadError(f"{uri}: cannot load ({type(exc).__name__}: {exc}){where}") from exc
    if not isinstance(wrapper, StarPyfunc):
        raise ModelLoadError(f"{uri}: not a starrec pyfunc model ({type(wrapper).__name__})")
    predictor = wrapper.predictor
    predictor.top_k = top_k
    return predictor


def default_model_uri(registered_model: str, alias: str) -> str:
    """The registry's alias of the pyfunc model, e.g. models:/starrec-pyfunc@champion."""
    return f"models:/{registered_model}@{alias}"
