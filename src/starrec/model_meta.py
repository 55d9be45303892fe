"""What a saved model needs beside its .keras file: how its input is made (image size,
channels, the extract params faces were cut with) and, for a classifier, its class order.

Train writes `model_meta.json`, pretrain `backbone_meta.json`; prediction, serving,
calibration and enrolment read them. One schema, one reader, one writer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from starrec.config import ExtractParams
from starrec.io import write_json_atomic


class MetaError(ValueError):
    """A meta JSON is missing or is not one (the message names the file and why)."""


class ModelMeta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    image_size: int
    channels: int
    extract: ExtractParams
    # a classifier (train): output order, full input shape, pixel range, family
    classes: list[str] | None = None
    image_shape: list[int] | None = None
    input_range: list[float] | None = None
    model: str | None = None
    # a classifier on embeddings (model embedding_head): the embedder that makes its input
    embedder: str | None = None
    embedder_input: dict[str, Any] | None = None  # faces.embed.InputSpec
    embedder_sha256: str | None = None  # of the embedder's model file
    licences: dict[str, str] | None = None  # {face model file: licence}
    # an embedding backbone (pretrain)
    embedding_dim: int | None = None
    verification_threshold: float | None = None


def write_meta(path: str | Path, meta: ModelMeta) -> None:
    write_json_atomic(path, meta.model_dump(mode="json", exclude_none=True))


def read_meta(path: str | Path) -> ModelMeta:
    path = Path(path)
    try:
        return ModelMeta.model_validate(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise MetaError(f"{path}: model meta JSON missing (written beside the model)") from exc
    except (OSError, ValueError, ValidationError) as exc:
        raise MetaError(f"{path}: not a model meta JSON ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0]})") from exc
