"""Degradations on real LFW faces: shape and dtype kept, the effect each one promises
measured (detail lost, blocks, occluder, gray), and a seed giving the same bytes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers.params import section
from PIL import Image

from starrec.faces import degrade as d

OFF = {"p": 0.0, "low": 1.0, "high": 1.0}
ALL_OFF = {"flip": 0.0, "occlude": 0.0, "grayscale": 0.0, **{k: OFF for k in (
    "brightness", "contrast", "downscale_px", "gaussian_sigma", "motion_length", "jpeg_quality")}}


@pytest.fixture(scope="module")
def faces(shared_datasets: Path) -> np.ndarray:
    """112x112 RGB uint8 centre crops of 8 LFW photos (deep-funneled: the face centred)."""
    files = sorted((shared_datasets / "lfw-subset").glob("*/*_0001.jpg"))[:8]
    return np.stack([np.asarray(Image.open(f).convert("RGB").crop((70, 70, 180, 180))
                                .resize((112, 112), Image.BICUBIC)) for f in files])


def detail(x: np.ndarray) -> float:
    """Mean variance of the Laplacian of the gray faces: high-frequency energy."""
    return float(np.mean([cv2.Laplacian(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
                          for f in x]))


def fine_detail_kept(out: np.ndarray, x: np.ndarray) -> float:
    """How much of `x`'s fine detail (gray minus its Gaussian blur of sigma 1.5: above ~12
    cycles per face) is still in `out`: its projection on that detail, 1 = all of it.
    Interpolation kinks a resize adds are not the face's detail, so they do not count."""
    def fine(a: np.ndarray) -> np.ndarray:
        gray = a.astype(np.float32).mean(axis=3)
        return np.stack([g - cv2.GaussianBlur(g, (0, 0), 1.5) for g in gray])

    got, want = fine(out), fine(x)
    return float((got * want).sum() / (want * want).sum())


def test_every_degradation_keeps_shape_and_dtype_and_leaves_its_input(faces) -> None:
    before = faces.copy()
    rng = np.random.default_rng(0)
    outs = [d.downscale(faces, 16), d.gaussian_blur(faces, 1.5), d.motion_blur(faces, 7, 30),
            d.jpeg(faces, 20), d.brightness_contrast(faces, 20, 1.2), d.occlude(faces, rng),
            d.occlude(faces, rng, "rect"), d.grayscale(faces), d.flip(faces),
            *(d.degrade(faces, name, 0) for name in d.SEVERITIES),
            d.augment_batch(faces, rng, section("train").finetune.degrade)]
    for out in outs:
        assert out.shape == faces.shape and out.dtype == np.uint8
    assert np.array_equal(faces, before)


def test_downscaling_loses_the_high_frequencies(faces) -> None:
    kept = {px: fine_detail_kept(d.downscale(faces, px), faces) for px in (112, 32, 16)}
    assert kept[112] == 1.0
    assert kept[16] < kept[32] < 0.5  # measured 0.06 and 0.32
    assert kept[16] < 0.1


def test_blurs_remove_detail_the_stronger_the_more(faces) -> None:
    assert detail(d.gaussian_blur(faces, 2.0)) < detail(d.gaussian_blur(faces, 0.8)) < detail(faces)
    # a horizontal streak smooths along rows: left-right changes drop far more than up-down
    streak = d.motion_blur(faces, 9, 0).astype(float)
    across = np.abs(np.diff(streak, axis=2)).mean() / np.abs(np.diff(faces.astype(float), axis=2)).mean()
    down = np.abs(np.diff(streak, axis=1)).mean() / np.abs(np.diff(faces.astype(float), axis=1)).mean()
    assert across < 0.8 * down  # measured 0.62 vs 0.81


def test_jpeg_error_grows_as_quality_falls(faces) -> None:
    error = {q: np.abs(d.jpeg(faces, q).astype(int) - faces).mean() for q in (90, 40, 10)}
    assert 0 < error[90] < error[40] < error[10]


def test_brightness_contrast_and_grayscale(faces) -> None:
    brighter = d.brightness_contrast(faces, 30, 1.0)
    assert 20 < brighter.mean() - faces.mean() <= 30  # clipped at 255
    flat = d.brightness_contrast(faces, -8, 0.0)
    assert (flat == 120).all()
    gray = d.grayscale(faces)
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    assert np.array_equal(d.flip(d.flip(faces)), faces)
    assert np.array_equal(d.flip(faces)[:, :, 0], faces[:, :, -1])


def test_occluders_hide_the_lower_face_or_a_rectangle(faces) -> None:
    lower = d.occlude(faces, np.random.default_rng(1), "lower")
    row = int(d.LOWER_FACE * 112)
    assert np.array_equal(lower[:, :row], faces[:, :row])
    for face in lower:
        assert (face[row:] == face[row, 0]).all()  # one flat colour
    rect = d.occlude(faces, np.random.default_rng(1), "rect")
    hidden = (rect != faces).any(axis=3).mean(axis=(1, 2))
    assert ((hidden > 0.05) & (hidden <= 0.36)).all()
    with pytest.raises(ValueError, match="not lower or rect"):
        d.occlude(faces, np.random.default_rng(1), "eyes")


def test_named_severities_are_seeded_and_combined_is_the_worst(faces) -> None:
    for name in d.SEVERITIES:
        assert d.degrade(faces, name, 3).tobytes() == d.degrade(faces, name, 3).tobytes()
    assert not np.array_equal(d.degrade(faces, "occluded", 3), d.degrade(faces, "occluded", 4))
    error = {name: np.abs(d.degrade(faces, name, 0).astype(int) - faces).mean()
             for name in ("px24", "px16", "blur", "jpeg20", "combined")}
    assert error["px24"] < error["px16"]
    assert error["combined"] > max(error["px24"], error["blur"], error["jpeg20"])
    with pytest.raises(ValueError, match="severity 'px8': not one of px24, px16"):
        d.degrade(faces, "px8", 0)


def test_augment_batch_draws_from_params_and_a_seed_gives_the_same_bytes(faces) -> None:
    cfg = section("train").finetune.degrade
    a = d.augment_batch(faces, np.random.default_rng(7), cfg)
    assert a.tobytes() == d.augment_batch(faces, np.random.default_rng(7), cfg).tobytes()
    assert a.tobytes() != d.augment_batch(faces, np.random.default_rng(8), cfg).tobytes()
    off = section("train", finetune={"degrade": ALL_OFF}).finetune.degrade
    assert np.array_equal(d.augment_batch(faces, np.random.default_rng(7), off), faces)
    flips = section("train", finetune={"degrade": {**ALL_OFF, "flip": 1.0}}).finetune.degrade
    assert np.array_equal(d.augment_batch(faces, np.random.default_rng(7), flips), d.flip(faces))
    small = section("train", finetune={"degrade": {
        **ALL_OFF, "downscale_px": {"p": 1.0, "low": 12, "high": 16}}}).finetune.degrade
    assert fine_detail_kept(d.augment_batch(faces, np.random.default_rng(7), small), faces) < 0.1


def test_degrade_params_refuse_impossible_ranges() -> None:
    with pytest.raises(ValueError, match="jpeg_quality.high <= 100"):
        section("train", finetune={"degrade": {"jpeg_quality": {"p": 0.5, "low": 10,
                                                                "high": 120}}})
    with pytest.raises(ValueError, match="low 40.0 > high 10.0"):
        section("train", finetune={"degrade": {"jpeg_quality": {"p": 0.5, "low": 40,
                                                                "high": 10}}})
