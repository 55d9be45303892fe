"""SFace rebuilt in Keras gives OpenCV's SFace vectors: cosine >= 0.999 on 200 aligned LFW
faces (measured: min 0.9999999, mean 1.0000000, largest difference between the unit vectors
7e-7), and the same nearest-prototype answers on five-celebrity-faces; a file with another
sha256 is refused before it is ported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.face_photos import largest_face, photo_files

from starrec.config import Config
from starrec.faces.align import align_face
from starrec.faces.artifacts import ModelFileError, model_file
from starrec.faces.detectors import YunetDetector
from starrec.faces.embed import SfaceEmbedder, embed_aligned, make_embedder, prototypes
from starrec.faces.image import decode_rgb
from starrec.faces.sface_keras import load_sface

LFW_FACES = 200


def aligned_crops(yunet: YunetDetector, files: list[Path], cfg: Config) -> list[np.ndarray]:
    """The largest face of each photo aligned to 112x112 RGB, as extract_faces cuts it."""
    return [align_face(rgb, largest_face(yunet, rgb, cfg).landmarks, 112)
            for rgb in (decode_rgb(f) for f in files)]


@pytest.fixture(scope="module")
def sface_keras(cfg: Config):
    return make_embedder(cfg.faces, None, "sface_keras")


@pytest.fixture(scope="module")
def lfw_crops(yunet: YunetDetector, lfw: Path, cfg: Config) -> np.ndarray:
    """Aligned crops of every 15th LFW photo (people in name order): 200 faces."""
    return np.stack(aligned_crops(yunet, photo_files(lfw)[::15][:LFW_FACES], cfg))


def test_keras_sface_gives_opencv_sface_vectors(sface: SfaceEmbedder, sface_keras,
                                                lfw_crops: np.ndarray) -> None:
    assert len(lfw_crops) == LFW_FACES
    cosine = np.sum(embed_aligned(sface, lfw_crops) * embed_aligned(sface_keras, lfw_crops), 1)
    assert cosine.min() >= 0.999, f"min {cosine.min():.6f} mean {cosine.mean():.6f}"


def test_nearest_prototype_answers_are_opencv_sface_answers(
        sface: SfaceEmbedder, sface_keras, yunet: YunetDetector, five: Path, cfg: Config) -> None:
    """Train faces' class means as prototypes, each val face named by the nearest."""
    split = {name: photo_files(five / name) for name in ("train", "val")}
    crops = {name: np.stack(aligned_crops(yunet, files, cfg)) for name, files in split.items()}
    people = np.array([f.parent.name for f in split["train"]])
    answers = []
    for embedder in (sface, sface_keras):
        classes, protos = prototypes(embed_aligned(embedder, crops["train"]), people)
        answers.append(classes[(embed_aligned(embedder, crops["val"]) @ protos.T).argmax(1)])
    assert len(answers[0]) == 25
    assert list(answers[1]) == list(answers[0])
    truth = np.array([f.parent.name for f in split["val"]])
    assert (answers[1] == truth).mean() >= 0.96  # 25 of 25 measured, with either


def test_a_file_with_another_sha256_is_refused(cfg: Config, tmp_path: Path) -> None:
    data = bytearray(model_file("sface", cfg.faces.models, None).read_bytes())
    data[-1] ^= 1  # one bit off in the last weight: still a loadable graph
    swapped = tmp_path / "face_recognition_sface_2021dec_int8bq.onnx"
    swapped.write_bytes(bytes(data))
    for port in (lambda: load_sface(swapped), lambda: make_embedder(
            cfg.faces.model_copy(update={"models": cfg.faces.models.model_copy(
                update={"paths": {"sface": swapped}})}), None, "sface_keras")):
        with pytest.raises(ModelFileError, match=r"sha256 \w+… is not the published") as err:
            port()
        assert "\n" not in str(err.value)
