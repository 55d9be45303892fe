"""The robustness pieces on real LFW crops: seeded degraded copies (same seed, same bytes),
the float <-> uint8 round trip of load_split's images, the degraded mean, and the one-line
error when embeddings and crops are not of the same faces."""

from pathlib import Path
from typing import get_args

import numpy as np
import pytest
from helpers.faces import make_faces_dir

from starrec.config import Severity
from starrec.evaluate.robustness import (
    CLEAN,
    check_embedded,
    degraded_copies,
    degraded_mean,
    sha256_of,
    to_crops,
    to_images,
)
from starrec.faces.degrade import SEVERITIES


@pytest.fixture(scope="module")
def crops(tmp_path_factory: pytest.TempPathFactory, shared_datasets: Path) -> np.ndarray:
    faces = make_faces_dir(tmp_path_factory.mktemp("faces"), shared_datasets / "lfw-subset",
                           {"Colin_Powell": 4, "Tony_Blair": 4}, image_size=112, channels=3)
    from PIL import Image

    return np.stack([np.asarray(Image.open(p)) for p in sorted(faces.glob("*/*.png"))])


def test_params_name_every_severity_of_degrade() -> None:
    assert set(get_args(Severity)) == set(SEVERITIES)


def test_same_seed_same_bytes_other_seed_other_occluder(crops) -> None:
    first, again = (degraded_copies(crops, list(SEVERITIES), 7) for _ in range(2))
    assert list(first) == [CLEAN, *SEVERITIES] and first[CLEAN] is crops
    assert {s: sha256_of(c) for s, c in first.items()} == {s: sha256_of(c)
                                                            for s, c in again.items()}
    other = degraded_copies(crops, ["occluded", "px16"], 8)
    assert sha256_of(other["occluded"]) != sha256_of(first["occluded"])
    assert sha256_of(other["px16"]) == sha256_of(first["px16"])  # nothing random in it
    for s in SEVERITIES:
        assert first[s].shape == crops.shape and first[s].dtype == np.uint8
        assert not np.array_equal(first[s], crops), s


def test_float_images_round_trip(crops) -> None:
    images = crops.astype(np.float32) / 255.0
    assert np.array_equal(to_crops(images), crops)
    assert np.array_equal(to_images(crops, 3), images)
    gray = images.mean(axis=-1, keepdims=True).round(2)
    assert to_crops(gray).shape == crops.shape
    assert np.allclose(to_images(to_crops(gray), 1), gray, atol=0.5 / 255)


def test_degraded_mean_leaves_clean_out() -> None:
    by = {CLEAN: {"accuracy": 1.0}, "px16": {"accuracy": 0.5}, "blur": {"accuracy": 0.7}}
    assert degraded_mean(by) == {"accuracy": pytest.approx(0.6)}


def test_embeddings_of_other_faces_are_named() -> None:
    x = np.eye(3, 4, dtype=np.float32)
    check_embedded(x, x + 1e-5, np.array(["a/1", "b/1", "c/1"]), Path("sface.npz"))
    with pytest.raises(ValueError, match=r"^sface.npz: face 'b/1' has another embedding than "
                                         r"its TFRecord crop \(cosine 0.000, 2 faces\)"):
        check_embedded(x, x[[0, 2, 1]], np.array(["a/1", "b/1", "c/1"]), Path("sface.npz"))
    with pytest.raises(ValueError, match="sface.npz: 2 embeddings for 3 test crops"):
        check_embedded(x[:2], x, np.array(["a/1", "b/1", "c/1"]), Path("sface.npz"))
