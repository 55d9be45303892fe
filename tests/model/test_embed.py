"""Embedders on real faces: one interface, unit-norm float32 vectors, the same person
closer than different people (LFW), a batch embedded exactly as its faces one by one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.face_photos import largest_face, photos

from starrec.config import Config
from starrec.faces.model_files import ModelFileError
from starrec.faces.detectors import Detection, YunetDetector
from starrec.faces.embed import Embedder, OwnEmbedder, embed_faces, make_embedder


@pytest.fixture(scope="module")
def lfw_faces(yunet: YunetDetector, lfw: Path, cfg: Config) -> list[tuple[str, np.ndarray, Detection]]:
    """(person, photo, its largest YuNet face) for 5 photos of each of 8 LFW people."""
    return [(who, rgb, largest_face(yunet, rgb, cfg)) for who, rgb in photos(lfw, 5, 8)]


@pytest.fixture(scope="module")
def dlib_embedder(cfg: Config) -> Embedder:
    pytest.importorskip("dlib")  # the `dlib` extra
    return make_embedder(cfg.faces, None, "dlib")


@pytest.fixture(scope="module")
def own_embedder(tmp_path_factory: pytest.TempPathFactory, cfg: Config) -> OwnEmbedder:
    """A small backbone saved the way the pretrain stage saves it (weights untrained: these
    tests check the plumbing, not the accuracy, which the evaluate stage reports)."""
    from starrec.pretrain.backbone import build_backbone

    folder = tmp_path_factory.mktemp("own")
    extract = cfg.extract.model_copy(update={"image_size": 32, "color_mode": "gray"})
    model = build_backbone((32, 32, 1), cfg.pretrain.model_copy(
        update={"embedding_dim": 16, "widths": [8, 16]}))
    model.save(folder / "backbone.keras")
    (folder / "backbone_meta.json").write_text(json.dumps(
        {"image_size": 32, "channels": 1, "embedding_dim": 16, "extract": extract.model_dump()}))
    return OwnEmbedder(folder / "backbone.keras")


def embeddings(embedder: Embedder, faces: list[tuple[str, np.ndarray, Detection]]) -> np.ndarray:
    return embedder.embed(np.stack([embedder.prepare(rgb, face) for _, rgb, face in faces]))


def check_vectors(x: np.ndarray, n: int, dim: int) -> None:
    assert x.shape == (n, dim) and x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def check_same_person_closer(x: np.ndarray, people: list[str]) -> None:
    """Every face's nearest other face is of the same person, and a same-person pair is
    more similar than a different-person pair (ROC AUC over all pairs; 1.0 measured)."""
    from sklearn.metrics import roc_auc_score

    who = np.asarray(people)
    sim = x @ x.T
    pairs = np.triu_indices(len(x), 1)
    assert roc_auc_score((who[:, None] == who[None])[pairs], sim[pairs]) >= 0.98
    np.fill_diagonal(sim, -np.inf)
    assert (who[sim.argmax(axis=1)] == who).mean() >= 0.95


@pytest.mark.parametrize("name", ["sface", "dlib"])
def test_same_person_is_closer_than_different_people(name: str, sface, dlib_embedder, lfw_faces) -> None:
    embedder = {"sface": sface, "dlib": dlib_embedder}[name]
    x = embeddings(embedder, lfw_faces)
    check_vectors(x, len(lfw_faces), embedder.dim)
    check_same_person_closer(x, [who for who, _, _ in lfw_faces])


@pytest.mark.parametrize("name", ["sface", "dlib", "own"])
def test_a_batch_embeds_as_its_faces_one_by_one(name: str, sface, dlib_embedder, own_embedder,
                                                lfw_faces) -> None:
    embedder = {"sface": sface, "dlib": dlib_embedder, "own": own_embedder}[name]
    faces = lfw_faces[::4]
    batch = embeddings(embedder, faces)
    single = np.concatenate([embeddings(embedder, [f]) for f in faces])
    check_vectors(batch, len(faces), embedder.dim)
    assert np.abs(batch - single).max() < 1e-5


def test_input_specs_describe_the_prepared_input(sface, dlib_embedder, own_embedder, lfw_faces) -> None:
    _, rgb, face = lfw_faces[0]
    for embedder, channels, dtype in [(sface, 3, np.uint8), (dlib_embedder, 3, np.uint8),
                                      (own_embedder, 1, np.float32)]:
        spec = embedder.input
        x = embedder.prepare(rgb, face)
        assert x.shape == (spec.size, spec.size, channels) and x.dtype == dtype
        assert set(spec.to_dict()) == {"crop", "size", "colour", "scaling"}
    assert (sface.input.size, sface.input.colour) == (112, "bgr")
    assert (dlib_embedder.input.size, dlib_embedder.input.colour) == (150, "rgb")
    assert (own_embedder.input.size, own_embedder.input.colour, own_embedder.dim) == (32, "gray", 16)
    assert 0.0 <= own_embedder.prepare(rgb, face).min() and own_embedder.prepare(rgb, face).max() <= 1.0


def test_embed_faces_of_a_photo(sface, lfw_faces) -> None:
    _, rgb, face = lfw_faces[0]
    assert embed_faces(sface, rgb, []).shape == (0, 128)
    check_vectors(embed_faces(sface, rgb, [face, face]), 2, 128)


def test_sface_refuses_a_face_without_landmarks(sface, lfw_faces) -> None:
    _, rgb, face = lfw_faces[0]
    with pytest.raises(ValueError, match="sface needs 5 face landmarks"):
        sface.prepare(rgb, Detection(face.box, face.score))


def test_missing_backbone_is_one_line(cfg: Config, tmp_path: Path) -> None:
    faces = cfg.faces.model_copy(update={"backbone": tmp_path / "backbone.keras"})
    with pytest.raises(ModelFileError, match=r"backbone.keras: backbone not found; fix: run the "
                                             r"pretrain stage"):
        make_embedder(faces, None, "own")
