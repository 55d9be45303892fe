"""Find and load a model for prediction: a registry alias, a runs:/ or models:/ URI of the
pyfunc model, or a local .keras file with its meta JSON (and open_set.json) beside it."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from starrec.config import ExtractParams
from starrec.predict.classifier import OpenSetRule
from starrec.predict.recognize import Predictor
from starrec.train.models import BACKBONE_FILE

log = logging.getLogger(__name__)
META_NAME = "model_meta.json"
OPEN_SET_NAME = "open_set.json"


class ModelLoadError(RuntimeError):
    """The model cannot be found or is not a starrec model (the message says which and why)."""


@dataclass
class KerasClassifier:
    """The train stage's softmax model, with the class names and crop params it was trained on."""

    model: Any  # keras.Model
    classes: list[str]
    image_size: int
    channels: int
    extract: ExtractParams
    batch_size: int = 64

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict(images, batch_size=self.batch_size, verbose=0),
                          dtype=np.float32)

    @classmethod
    def from_files(cls, model_path: str | Path, meta_path: str | Path | None = None,
                   batch_size: int = 64) -> KerasClassifier:
        import keras

        model_path = Path(model_path)
        meta_path = Path(meta_path) if meta_path else model_path.with_name(META_NAME)
        if not model_path.is_file():
            raise ModelLoadError(f"{model_path}: no such model file")
        if not meta_path.is_file():
            raise ModelLoadError(f"{meta_path}: model meta JSON missing (written by train)")
        meta = read_meta(meta_path)
        model = keras.saving.load_model(model_path, compile=False)
        n_out = int(model.output_shape[-1])
        if n_out != len(meta["classes"]):
            raise ModelLoadError(f"{model_path}: {n_out} outputs but {len(meta['classes'])} "
                                 f"classes in {meta_path}")
        return cls(model, meta["classes"], meta["image_size"], meta["channels"],
                   meta["extract"], batch_size)


def read_meta(path: str | Path) -> dict[str, Any]:
    """The train stage's model meta: class names in output order, input size, extract params."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
        extract = ExtractParams.model_validate(raw["extract"])
        channels = int(raw.get("channels", 1 if extract.color_mode == "gray" else 3))
        return {"classes": [str(c) for c in raw["classes"]],
                "image_size": int(raw.get("image_size", extract.image_size)),
                "channels": channels, "extract": extract}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{path}: not a model meta JSON ({type(exc).__name__}: {exc})") from exc


def load_local(model_path: str | Path, top_k: int = 3, batch_size: int = 64) -> Predictor:
    """A .keras file + model_meta.json (+ open_set.json; without it no face is `unknown`);
    or the pretrain backbone + its `starrec enroll` gallery (nearest prototype)."""
    if Path(model_path).name == BACKBONE_FILE:
        from starrec.enroll.classifier import load_prototype_predictor
        from starrec.enroll.gallery import EnrollError

        try:
            return load_prototype_predictor(model_path, top_k)
        except (EnrollError, OSError, ValueError) as exc:
            raise ModelLoadError(str(exc)) from exc
    classifier = KerasClassifier.from_files(model_path, batch_size=batch_size)
    rule_path = Path(model_path).with_name(OPEN_SET_NAME)
    if rule_path.is_file():
        rule = OpenSetRule.from_json(rule_path)
    else:
        log.warning("%s: no open-set threshold beside the model; every face gets a star's name",
                    rule_path)
        rule = OpenSetRule()
    return Predictor(classifier, rule, top_k)


def load_predictor(uri: str, top_k: int = 3, batch_size: int = 64) -> Predictor:
    """`uri`: a local .keras path, or a runs:/ / models:/ URI of a starrec pyfunc model."""
    if not uri.startswith(("runs:/", "models:/")) and "://" not in uri:
        return load_local(uri, top_k, batch_size)
    import mlflow.pyfunc

    from starrec.predict.serving import StarPyfunc

    try:
        wrapper = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    except Exception as exc:  # noqa: BLE001 - mlflow raises many types; one clear line
        raise ModelLoadError(f"{uri}: cannot load ({type(exc).__name__}: {exc})") from exc
    if not isinstance(wrapper, StarPyfunc):
        raise ModelLoadError(f"{uri}: not a starrec pyfunc model ({type(wrapper).__name__})")
    predictor = wrapper.predictor
    predictor.top_k = top_k
    return predictor


def default_model_uri(registered_model: str, alias: str) -> str:
    """The registry's alias of the pyfunc model, e.g. models:/starrec-pyfunc@champion."""
    return f"models:/{registered_model}@{alias}"
