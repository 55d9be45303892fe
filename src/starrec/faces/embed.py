"""Face embedders behind one interface: a detected face in, an L2-normalised vector out.

`prepare` turns a photo and one detection into the embedder's model input, `embed` runs the
network on a batch of them. Each embedder states how its input is made (`InputSpec`), so a
model trained on its embeddings can carry that in its metadata and be fed identically
in training, prediction and serving.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np
import pandas as pd
from PIL import Image

from starrec.config import EngineParams, FacesParams, HttpParams
from starrec.engine import Failed, map_elements
from starrec.faces.align import align_face
from starrec.faces.model_files import ModelFileError, artifact, model_file
from starrec.faces.detectors import Detection
from starrec.faces.image import decode_rgb
from starrec.faces.result_cache import ResultCache, code_sha256, library_versions, result_key
from starrec.faces import sface_keras
from starrec.faces.sface_keras import load_sface

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputSpec:
    """How one face becomes model input."""

    crop: Literal["aligned_5pt", "dlib_chip", "square_box"]  # how the face is cut
    size: int  # side of the square input, pixels
    colour: Literal["bgr", "rgb", "gray"]
    scaling: str  # pixel values as fed to the network

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Embedder(Protocol):
    name: str
    dim: int
    licence: str
    input: InputSpec

    def prepare(self, rgb: np.ndarray, face: Detection) -> np.ndarray:
        """The model input for one face of an RGB uint8 photo."""
        ...

    def embed(self, inputs: np.ndarray) -> np.ndarray:
        """(N, dim) float32 unit-norm embeddings of N prepared inputs."""
        ...


def embed_faces(embedder: Embedder, rgb: np.ndarray, faces: list[Detection]) -> np.ndarray:
    """Embeddings (N, dim) of the detected `faces` of one RGB photo, in their order."""
    if not faces:
        return np.zeros((0, embedder.dim), np.float32)
    return embedder.embed(np.stack([embedder.prepare(rgb, f) for f in faces]))


def embed_aligned(embedder: Embedder, crops: np.ndarray) -> np.ndarray:
    """(N, dim) embeddings of aligned RGB uint8 crops (N, size, size, 3) as extract_faces
    cuts them: the one step from a saved or a freshly cut crop to an embedding, shared by the
    embed stage, prediction and serving."""
    if embedder.input.crop != "aligned_5pt":
        raise ValueError(f"embedder {embedder.name} cuts its own input from the photo "
                         f"({embedder.input.crop}); it cannot embed aligned crops")
    if len(crops) == 0:
        return np.zeros((0, embedder.dim), np.float32)
    if embedder.input.colour == "bgr":
        crops = np.ascontiguousarray(np.asarray(crops)[..., ::-1])
    return embedder.embed(crops)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


class SfaceEmbedder:
    """OpenCV zoo SFace (`cv2.FaceRecognizerSF`) on faces aligned by their 5 landmarks."""

    name = "sface"
    dim = 128
    licence = artifact("sface").licence
    input = InputSpec("aligned_5pt", 112, "bgr", "uint8 0-255 (the network swaps to RGB)")

    def __init__(self, model: Path) -> None:
        self.model = cv2.FaceRecognizerSF.create(str(model), "")

    def prepare(self, rgb: np.ndarray, face: Detection) -> np.ndarray:
        # warp first, then swap channels of the small crop only (same pixels, less work)
        return cv2.cvtColor(aligned(self, rgb, face), cv2.COLOR_RGB2BGR)

    def embed(self, inputs: np.ndarray) -> np.ndarray:
        # one face per forward pass: OpenCV 4.14 DNN gives NaN for batches of this int8bq
        # graph, and batching measured no faster per face on CPU
        features = [self.model.feature(x) for x in inputs]
        return l2_normalise(np.concatenate(features).reshape(-1, self.dim))


class SfaceKerasEmbedder:
    """SFace rebuilt in Keras from the same verified file (faces/sface_keras.py): the vectors
    of `sface` (cosine >= 0.999, tests/model/test_sface_keras.py) from a network that runs
    in batches and can be fine-tuned."""

    name = "sface_keras"
    dim = 128
    licence = artifact("sface").licence
    input = InputSpec("aligned_5pt", 112, "rgb", "uint8 0-255 (the model scales (x-127.5)/128)")
    batch_size = 64

    def __init__(self, model: Path) -> None:
        self.model = load_sface(model)

    def prepare(self, rgb: np.ndarray, face: Detection) -> np.ndarray:
        return aligned(self, rgb, face)

    def embed(self, inputs: np.ndarray) -> np.ndarray:
        # predict_on_batch: `predict` builds a tf.data pipeline on every call, most of the
        # time a photo with one face takes (predict/model_io.py batched_proba)
        x = np.asarray(inputs, np.float32)
        if not len(x):
            return np.zeros((0, self.dim), np.float32)
        return l2_normalise(np.concatenate([
            np.asarray(self.model.predict_on_batch(x[i:i + self.batch_size]))
            for i in range(0, len(x), self.batch_size)]))


def aligned(embedder: Embedder, rgb: np.ndarray, face: Detection) -> np.ndarray:
    """The RGB crop of `face` aligned by its 5 landmarks at the embedder's input size."""
    if face.landmarks is None:
        raise ValueError(f"{embedder.name} needs 5 face landmarks: use detector yunet or mtcnn, "
                         "not haar")
    return align_face(rgb, face.landmarks, embedder.input.size)


class DlibEmbedder:
    """dlib's ResNet on 150x150 chips cut by its own 5-point landmark predictor (the extra
    `dlib`); the face box may come from any detector."""

    name = "dlib"
    dim = 128
    licence = artifact("dlib_resnet").licence
    input = InputSpec("dlib_chip", 150, "rgb", "uint8 0-255")

    def __init__(self, resnet: Path, shape5: Path) -> None:
        try:
            import dlib
        except ImportError:
            raise ModelFileError("embedder dlib: the dlib module is not installed; "
                                 "fix: pip install 'starrec[dlib]'") from None
        self.dlib = dlib
        self.shape = dlib.shape_predictor(str(shape5))
        self.model = dlib.face_recognition_model_v1(str(resnet))

    def prepare(self, rgb: np.ndarray, face: Detection) -> np.ndarray:
        x, y, w, h = face.box
        rect = self.dlib.rectangle(x, y, x + w - 1, y + h - 1)
        rgb = np.ascontiguousarray(rgb)
        # padding 0.25 is the chip the ResNet was trained on (dlib's face recognition example)
        return self.dlib.get_face_chip(rgb, self.shape(rgb, rect), size=self.input.size,
                                       padding=0.25)

    def embed(self, inputs: np.ndarray) -> np.ndarray:
        chips = [np.ascontiguousarray(c) for c in inputs]
        vectors = np.asarray(self.model.compute_face_descriptor(chips))
        return l2_normalise(vectors.reshape(-1, self.dim))


class OwnEmbedder:
    """The pretrain stage's Keras backbone, fed exactly as it was trained: a square crop cut
    with the extract params in its `backbone_meta.json`, float32 [0, 1]."""

    name = "own"
    licence = "trained by this project's pretrain stage (see its MLflow run)"

    def __init__(self, backbone: Path) -> None:
        import keras

        from starrec.artifacts import BACKBONE_META
        from starrec.model_meta import MetaError, read_meta

        if not Path(backbone).is_file():
            raise ModelFileError(f"{backbone}: backbone not found; fix: run the pretrain stage "
                                 "(dvc repro pretrain) or set faces.backbone")
        try:
            self.meta = read_meta(Path(backbone).with_name(BACKBONE_META))
        except MetaError as exc:
            raise ModelFileError(str(exc)) from exc
        self.model = keras.saving.load_model(backbone, compile=False)
        self.dim = int(self.model.output_shape[-1])
        self.input = InputSpec("square_box", self.meta.image_size,
                               "gray" if self.meta.channels == 1 else "rgb",
                               f"float32 x/255 (box grown by margin {self.meta.extract.margin} "
                               "per side)")

    def prepare(self, rgb: np.ndarray, face: Detection) -> np.ndarray:
        from starrec.faces.detect import crop, to_input

        return to_input(crop(rgb, face.box, self.meta.extract), self.meta.channels)

    def embed(self, inputs: np.ndarray) -> np.ndarray:
        return embed(self.model, inputs)


def embed(backbone: "keras.Model", images: np.ndarray, batch_size: int = 256,
          mirror: bool = True) -> np.ndarray:
    """Unit-norm float32 embeddings (N, D) of float32 [0, 1] face crops (N, H, W, C).

    With `mirror`, each face's embedding is averaged with its left-right mirror image's
    (faces are near-symmetric, so this averages out pose and lighting noise): on
    five-celebrity-faces val it took logistic regression on the embeddings from 0.92 to 0.96
    and nearest prototype from 0.88 to 0.92."""
    if len(images) == 0:
        return np.zeros((0, int(backbone.output_shape[-1])), dtype=np.float32)
    images = np.asarray(images, dtype=np.float32)
    out = backbone.predict(images, batch_size=batch_size, verbose=0)
    if mirror:
        out = out + backbone.predict(images[:, :, ::-1], batch_size=batch_size, verbose=0)
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return np.asarray(out, dtype=np.float32)


def prototypes(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct labels, (K, D) unit-norm mean embedding of each): the class centres
    nearest-prototype classification (enrolment, the few-shot report) compares faces with."""
    labels = np.asarray(labels)
    classes = np.unique(labels)
    protos = np.stack([embeddings[labels == c].mean(axis=0) for c in classes])
    return classes, (protos / np.linalg.norm(protos, axis=1, keepdims=True)).astype(np.float32)


# the pretrained files (faces/model_files names) each embedder runs, its network first: what it
# loads, whose sha256 its vectors are recorded against, and whose licences a model records
EMBEDDER_FILES = {"sface": ["sface"], "sface_keras": ["sface"],
                  "dlib": ["dlib_resnet", "dlib_shape5"], "own": []}
# the embedders built from their verified files alone (`own` reads its backbone instead)
EMBEDDERS: dict[str, Callable[..., Embedder]] = {
    "sface": SfaceEmbedder, "sface_keras": SfaceKerasEmbedder, "dlib": DlibEmbedder}


def face_model_files(detector: str, embedder: str | None) -> list[str]:
    """The pretrained files a model cut by `detector` and fed by `embedder` (None: a CNN on
    the crops) runs on: what prediction loads and whose licences the model records."""
    return (["yunet"] if detector == "yunet" else []) + (
        EMBEDDER_FILES[embedder] if embedder else [])


def make_embedder(cfg: FacesParams, http: HttpParams | None = None,
                  name: str | None = None) -> Embedder:
    """The embedder `name` (default: `faces.embedder`), its model files resolved and verified."""
    name = name or cfg.embedder
    if name not in EMBEDDER_FILES:
        raise ValueError(f"embedder {name!r}: not one of {', '.join(EMBEDDER_FILES)}")
    if name == "own":
        return OwnEmbedder(cfg.backbone)
    files = [model_file(f, cfg.models, http) for f in EMBEDDER_FILES[name]]
    return EMBEDDERS[name](*files)


CHUNK = 64  # faces held as model input at once


def embed_manifest(embedder: Embedder, faces: pd.DataFrame, faces_dir: Path,
                   raw_dir: Path, max_pixels: int, engine: EngineParams | None = None,
                   remake: Callable[[], Embedder] | None = None,
                   cache: ResultCache | None = None) -> np.ndarray:
    """(N, dim) embeddings of the faces-manifest rows `faces`, in their order; with `cache`
    (an embedder of pretrained files), faces embedded before by the same embedder are not
    embedded again (`face_keys`)."""
    if cache is None or embedder.name not in EMBEDDER_FILES or not EMBEDDER_FILES[embedder.name]:
        return _embed_rows(embedder, faces, faces_dir, raw_dir, max_pixels, engine, remake)
    keys = face_keys(embedder, faces, max_pixels)
    out = np.zeros((len(faces), embedder.dim), np.float32)
    missing = []
    for i, key in enumerate(keys):
        found = cache.get(key)
        if found is not None and len(found) == 4 * embedder.dim:
            out[i] = np.frombuffer(found, "<f4")
        else:
            missing.append(i)
    log.info("embed %s: %d of %d faces reused from %s", embedder.name, len(faces) - len(missing),
             len(faces), cache.root)
    if missing:
        fresh = _embed_rows(embedder, faces.iloc[missing], faces_dir, raw_dir, max_pixels,
                            engine, remake)
        out[missing] = fresh
        for i, x in zip(missing, fresh, strict=True):
            cache.put(keys[i], np.asarray(x, "<f4").tobytes())
    return out


def face_keys(embedder: Embedder, faces: pd.DataFrame, max_pixels: int) -> list[str]:
    """Each face's result-cache key: the embedder's model files, input spec, code and
    libraries, and what it is fed — an aligned crop's sha256, or for an embedder that cuts
    its own input, the photo's sha256 with the detection."""
    settings = result_key(
        "embed-settings", embedder.name,
        [artifact(f).sha256 for f in EMBEDDER_FILES[embedder.name]],
        embedder.input.to_dict(),
        library_versions("opencv-python-headless", "numpy", "dlib-bin", "keras", "tensorflow",
                         "tensorflow-cpu", "onnx"),
        code_sha256(sys.modules[__name__], sface_keras))
    if embedder.input.crop == "aligned_5pt":
        return [result_key("embed", settings, sha) for sha in faces["sha256"]]
    found = [detection(row) for _, row in faces.iterrows()]
    return [result_key("embed", settings, sha, max_pixels, list(d.box), d.landmarks)
            for sha, d in zip(faces["source_sha256"], found, strict=True)]


def _embed_rows(embedder: Embedder, faces: pd.DataFrame, faces_dir: Path, raw_dir: Path,
                max_pixels: int, engine: EngineParams | None,
                remake: Callable[[], Embedder] | None) -> np.ndarray:
    """An aligned-crop embedder (SFace) takes the saved 112x112 crop as it is, so no photo is
    decoded or aligned twice, CHUNK crops per element: in this process, or on Beam
    (`engine`; each worker builds its embedder with `remake`). The others cut their own
    input from the photo with the manifest's box and landmarks (`prepare`), as they do at
    prediction, in this process."""
    out = np.zeros((len(faces), embedder.dim), np.float32)
    if embedder.input.crop == "aligned_5pt":
        _check_aligned(embedder, faces)
        chunks = [(faces_dir, list(faces["path"].iloc[start:start + CHUNK]))
                  for start in range(0, len(faces), CHUNK)]
        beam = engine is not None and engine.name == "beam"
        setup = (partial(_set_embedder, remake, beam_worker=True) if beam
                 else partial(_set_embedder, lambda: embedder))
        vectors = map_elements(chunks, _embed_chunk, engine, faces_dir, desc="embed",
                               setup=setup)
        for i, x in enumerate(vectors):
            if isinstance(x, Failed):
                raise ValueError(f"a chunk from {chunks[i][1][0]}: {x.reason}")
            out[i * CHUNK:i * CHUNK + len(x)] = x
        return out
    for source, rows in faces.groupby("source_path", sort=False).indices.items():
        rgb = decode_rgb(raw_dir / source, max_pixels)
        dets = [detection(faces.iloc[i]) for i in rows]
        out[rows] = embedder.embed(np.stack([embedder.prepare(rgb, d) for d in dets]))
    return out


_embedder: Embedder | None = None


def _set_embedder(make: Callable[[], Embedder], beam_worker: bool = False) -> None:
    """A Beam worker runs OpenCV on one thread: the runner's parallelism is its workers, one
    per core (OpenCV's own threads on top made two workers barely faster than one, 1.12x);
    in this process OpenCV keeps its threads, the local engine's only parallelism here."""
    global _embedder
    if beam_worker:
        cv2.setNumThreads(1)
    _embedder = make()


def _embed_chunk(job: tuple[Path, list[str]]) -> np.ndarray:
    """The per-element work of both engines: one chunk of saved crops → embeddings."""
    assert _embedder is not None, "_set_embedder not called"
    faces_dir, paths = job
    return embed_aligned(_embedder, np.stack([_read_crop(faces_dir / p) for p in paths]))


def detection(row: pd.Series) -> Detection:
    """A faces-manifest row's box, score and landmarks (None when the detector gave none)."""
    points = [row.get(f"lm{i}_{a}") for i in range(5) for a in ("x", "y")]
    landmarks = (None if any(p is None or pd.isna(p) for p in points)
                 else tuple((float(points[i]), float(points[i + 1])) for i in range(0, 10, 2)))
    return Detection(tuple(int(row[c]) for c in ("box_x", "box_y", "box_w", "box_h")),
                     float(row["score"]), landmarks)


def _check_aligned(embedder: Embedder, faces: pd.DataFrame) -> None:
    size = embedder.input.size
    wrong = faces[(faces["width"] != size) | (faces["height"] != size) | (faces["channels"] != 3)
                  | faces["lm0_x"].isna()]
    if len(wrong):
        row = wrong.iloc[0]
        raise ValueError(
            f"{row['path']}: embedder {embedder.name} needs aligned {size}x{size} RGB crops, got "
            f"{row['width']}x{row['height']}x{row['channels']} from detector {row['detector']} "
            f"(fix: extract.detector yunet or mtcnn, image_size {size}, color_mode rgb)")


def _read_crop(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read face crop ({exc})") from exc
