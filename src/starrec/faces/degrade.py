"""Degradations of aligned face crops: what CCTV, phone zoom and messaging apps do to a face.

Every function takes RGB uint8 crops (N, H, W, 3) and returns new ones of the same shape and
dtype; randomness comes only from the numpy Generator passed in, so a seed gives the same
bytes. `degrade` applies the fixed named severities evaluation reports on; `augment_batch`
draws random ones for training (probabilities and ranges: `DegradeParams`).
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from starrec.config import DegradeParams

# below the nose tip of the 112x112 alignment template (y 71.7 of 112): a mask or a scarf
LOWER_FACE = 0.6
BLUR_SIGMA = 2.0  # Gaussian sigma of the named severities `blur` and `combined`, pixels at 112
OCCLUDED_SHARE = (0.15, 0.35)  # random rectangle: share of the crop's area it hides


def _each(x: np.ndarray, op: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    return np.stack([op(np.ascontiguousarray(face)) for face in x]) if len(x) else x.copy()


def downscale(x: np.ndarray, px: int) -> np.ndarray:
    """Each face shrunk to `px` x `px` (area averaging, as a camera's sensor does) and
    enlarged back (bilinear): the detail a face `px` pixels wide still has."""
    h, w = x.shape[1:3]
    return _each(x, lambda f: cv2.resize(cv2.resize(f, (px, px), interpolation=cv2.INTER_AREA),
                                         (w, h), interpolation=cv2.INTER_LINEAR))


def gaussian_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Out of focus: a Gaussian of `sigma` pixels."""
    return _each(x, lambda f: cv2.GaussianBlur(f, (0, 0), sigma, borderType=cv2.BORDER_REFLECT))


def motion_blur(x: np.ndarray, length: int, angle: float) -> np.ndarray:
    """A face or camera moving: the mean along a line of `length` pixels at `angle` degrees."""
    length = max(int(length), 1)
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    turn = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    kernel = cv2.warpAffine(kernel, turn, (length, length))
    kernel /= kernel.sum()
    return _each(x, lambda f: cv2.filter2D(f, -1, kernel, borderType=cv2.BORDER_REFLECT))


def jpeg(x: np.ndarray, quality: int) -> np.ndarray:
    """Encoded and decoded as JPEG at `quality` (1-100): blocks and ringing."""
    def codec(face: np.ndarray) -> np.ndarray:
        ok, data = cv2.imencode(".jpg", face[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        assert ok, "JPEG encoding failed"
        return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]

    return _each(x, codec)


def brightness_contrast(x: np.ndarray, brightness: float, contrast: float) -> np.ndarray:
    """(pixel - 128) * contrast + 128 + brightness, clipped to 0-255."""
    y = (x.astype(np.float32) - 128.0) * contrast + 128.0 + brightness
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def occlude(x: np.ndarray, rng: np.random.Generator, kind: str = "lower") -> np.ndarray:
    """Part of each face hidden under a flat colour drawn from `rng`: `lower`, the face below
    the nose tip (a mask, a scarf); `rect`, a random rectangle hiding 15-35 % of the crop (a
    hand, a cup, a microphone)."""
    if kind not in ("lower", "rect"):
        raise ValueError(f"occlude kind {kind!r}: not lower or rect")
    out = x.copy()
    h, w = x.shape[1:3]
    for face in out:
        colour = rng.integers(0, 256, 3, dtype=np.uint8)
        if kind == "lower":
            face[int(LOWER_FACE * h):] = colour
            continue
        area = rng.uniform(*OCCLUDED_SHARE) * h * w
        aspect = rng.uniform(0.5, 2.0)
        rh = int(min(h, round(np.sqrt(area / aspect))))
        rw = int(min(w, round(np.sqrt(area * aspect))))
        top, left = rng.integers(0, h - rh + 1), rng.integers(0, w - rw + 1)
        face[top:top + rh, left:left + rw] = colour
    return out


def grayscale(x: np.ndarray) -> np.ndarray:
    """Luminance (ITU-R BT.601, as OpenCV) in all three channels: a black-and-white camera."""
    return _each(x, lambda f: cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY),
                                           cv2.COLOR_GRAY2RGB))


def flip(x: np.ndarray) -> np.ndarray:
    """Mirrored left to right (aligned faces stay aligned: the template is symmetric)."""
    return np.ascontiguousarray(x[:, :, ::-1])


SEVERITIES: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "px24": lambda x, rng: downscale(x, 24),
    "px16": lambda x, rng: downscale(x, 16),
    "blur": lambda x, rng: gaussian_blur(x, BLUR_SIGMA),
    "jpeg20": lambda x, rng: jpeg(x, 20),
    "occluded": lambda x, rng: occlude(x, rng, "lower"),
    # the order a phone photo of a distant face goes through: sensor, optics, compression
    "combined": lambda x, rng: jpeg(gaussian_blur(downscale(x, 24), BLUR_SIGMA), 20),
}


def degrade(x: np.ndarray, severity: str, seed: int) -> np.ndarray:
    """Crops `x` at one named severity (`SEVERITIES`); `seed` draws what is random in it
    (the occluder's colour)."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r}: not one of {', '.join(SEVERITIES)}")
    return SEVERITIES[severity](x, np.random.default_rng(seed))


def augment_batch(x: np.ndarray, rng: np.random.Generator, cfg: DegradeParams) -> np.ndarray:
    """Each crop degraded at random for training: every op applied with its probability, at a
    value drawn from its range. All values are drawn for every face whether or not its op
    fires, so changing one op's probability leaves the others' draws unchanged."""
    out = []
    for face in x:
        face = face[None]
        fires = rng.uniform(size=9)
        values = [rng.uniform(r.low, r.high) for r in (cfg.brightness, cfg.contrast,
                                                        cfg.downscale_px, cfg.gaussian_sigma,
                                                        cfg.motion_length, cfg.jpeg_quality)]
        brightness, contrast, px, sigma, length, quality = values
        angle, occluder, kind = rng.uniform(0, 180), rng.integers(2**32), rng.integers(2)
        if fires[0] < cfg.flip:
            face = flip(face)
        if fires[1] < cfg.occlude:
            face = occlude(face, np.random.default_rng(occluder), ("lower", "rect")[kind])
        face = brightness_contrast(face, brightness if fires[2] < cfg.brightness.p else 0.0,
                                   contrast if fires[3] < cfg.contrast.p else 1.0)
        if fires[4] < cfg.grayscale:
            face = grayscale(face)
        if fires[5] < cfg.downscale_px.p:
            face = downscale(face, round(px))
        if fires[6] < cfg.gaussian_sigma.p:
            face = gaussian_blur(face, sigma)
        if fires[7] < cfg.motion_length.p:
            face = motion_blur(face, round(length), angle)
        if fires[8] < cfg.jpeg_quality.p:
            face = jpeg(face, round(quality))
        out.append(face[0])
    return np.stack(out) if out else x.copy()
