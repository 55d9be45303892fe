"""Decode a photo of any mode to RGB uint8, upright, so detection never sees odd pixels.

Photos arrive as JPEG/PNG/TIFF in gray, gray+alpha, RGBA, palette, CMYK or 16-bit; each is
converted by its meaning (alpha over white, 16-bit scaled, not clipped), after EXIF rotation.
The first step of the one face-input path: the extract stage, prediction, serving, enrolment
and calibration all decode photos here.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

WIDE_GRAY = ("I;16", "I;16B", "I;16L", "I;16N", "I")  # 16/32-bit integer gray


class UnreadableImage(ValueError):
    """The bytes are not a decodable image; the message says why."""


def decode_rgb(data: bytes, max_pixels: int | None = None) -> np.ndarray:
    """Encoded image bytes → upright RGB uint8 HxWx3; with `max_pixels`, a bigger image is
    refused from its header, before its pixels are decoded."""
    if not data:
        raise UnreadableImage("empty file (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))
        if max_pixels is not None and img.size[0] * img.size[1] > max_pixels:
            raise UnreadableImage(f"image too large: {img.size[0]}x{img.size[1]} pixels > "
                                  f"{max_pixels}")
        img.load()
        img = ImageOps.exif_transpose(img)
        return to_rgb(img)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(f"not a readable image ({type(exc).__name__}: {exc})") from exc


def to_rgb(img: Image.Image) -> np.ndarray:
    """Any PIL mode → RGB uint8: transparency composited over white, wide gray rescaled."""
    if img.mode in WIDE_GRAY:
        arr = np.asarray(img, dtype=np.float64)
        # 16-bit data spans 0..65535; an "I" image holding 8-bit values is left as is
        scale = 255.0 / 65535.0 if img.mode != "I" or arr.max() > 255 else 1.0
        gray = np.clip(arr * scale, 0, 255).round().astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode in ("P", "PA"):  # palette, possibly with a transparent index
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img.convert("RGB"))
