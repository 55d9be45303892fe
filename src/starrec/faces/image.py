"""Decode a photo of any mode to RGB uint8, upright, so detection never sees odd pixels.

Photos arrive as JPEG/PNG/TIFF/PGM in gray, gray+alpha, RGBA, palette, CMYK or 16-bit; each is
converted by its meaning (alpha over white, 16-bit scaled by /257, not clipped), after EXIF
rotation. This is the one decoder for training and prediction: a pixel must reach the model
with the same value on both paths.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

WIDE_GRAY = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # 16/32-bit integer gray


class UnreadableImage(ValueError):
    """The bytes are not a decodable image; the message says why."""


def decode_rgb(data: bytes | Path, max_pixels: int | None = None) -> np.ndarray:
    """Encoded image bytes (or a file of them) → upright RGB uint8 HxWx3; with `max_pixels`,
    a bigger image is refused before its pixels are decoded."""
    if isinstance(data, Path):
        try:
            data = data.read_bytes()
        except OSError as exc:
            raise UnreadableImage(f"cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise UnreadableImage("empty file (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))
        if max_pixels is not None and img.width * img.height > max_pixels:
            raise UnreadableImage(
                f"image too large: {img.width}x{img.height} pixels > {max_pixels}")
        img.load()
        img = ImageOps.exif_transpose(img)
        return to_rgb(img)
    except UnreadableImage:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"not a readable image ({type(exc).__name__}: {exc})") from exc


def to_rgb(img: Image.Image) -> np.ndarray:
    """Any PIL mode → RGB uint8: transparency composited over white, wide gray rescaled."""
    if img.mode in WIDE_GRAY:
        # Pillow gives 16-bit data the 0..65535 range whatever the container (PNG/TIFF as
        # I;16, PGM as I), so one fixed scale maps a value to one gray: 1000 -> 4 always,
        # never stretched by the image's own maximum
        gray = np.clip(np.asarray(img, dtype=np.float64) / 257.0, 0, 255).round().astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode in ("P", "PA") or "transparency" in img.info:  # transparent index or colour key
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img.convert("RGB"))
