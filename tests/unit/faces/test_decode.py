"""The one decoder (faces.image.decode_rgb): a pixel value means the same whatever the file's
container or mode, so training and prediction feed a model identical input."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from starrec.faces.image import UnreadableImage, decode_rgb


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "PPM"])  # opened as I;16, I;16 and I
def test_16_bit_gray_is_scaled_by_257_in_every_container(fmt: str) -> None:
    """1000 -> 4 (not stretched to 255 by the image's own maximum), and a dark 16-bit image
    whose values all lie under 256 is scaled the same, not taken for 8-bit data."""
    values = np.array([[0, 128, 255, 1000], [257, 32896, 65535, 200]], np.uint16)
    for arr, want in [(values, [[0, 0, 1, 4], [1, 128, 255, 1]]),
                      (values % 256, [[0, 0, 1, 1], [0, 0, 1, 1]])]:
        rgb = decode_rgb(encode(Image.fromarray(arr.astype(np.uint16)), fmt))
        assert rgb.dtype == np.uint8 and (rgb == np.asarray(want)[..., None]).all(), rgb[..., 0]


def test_transparency_of_every_kind_becomes_white() -> None:
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 200
    red[0, 0] = 0  # the one transparent pixel, black underneath
    rgba = np.dstack([red, np.full((4, 4), 255, np.uint8)])
    rgba[0, 0, 3] = 0
    palette = Image.fromarray(red).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    files = {
        "rgba": encode(Image.fromarray(rgba, "RGBA"), "PNG"),
        "palette": encode(palette, "PNG", transparency=palette.getpixel((0, 0))),
        "rgb colour key": encode(Image.fromarray(red), "PNG", transparency=(0, 0, 0)),
    }
    for kind, data in files.items():
        rgb = decode_rgb(data)
        assert (rgb[0, 0] == 255).all(), kind
        assert (rgb[1:, 1:] == (200, 0, 0)).all(), kind


def test_a_path_decodes_like_its_bytes(tmp_path: Path, shared_datasets: Path) -> None:
    photo = shared_datasets / "lfw-subset" / "Colin_Powell" / "Colin_Powell_0001.jpg"
    assert (decode_rgb(photo) == decode_rgb(photo.read_bytes())).all()
    with pytest.raises(UnreadableImage, match="cannot read file"):
        decode_rgb(tmp_path / "missing.jpg")


def test_too_many_pixels_are_refused_before_decoding() -> None:
    data = encode(Image.new("RGB", (300, 200)), "PNG")
    assert decode_rgb(data, max_pixels=60_000).shape == (200, 300, 3)
    with pytest.raises(UnreadableImage, match=r"^image too large: 300x200 pixels > 59999$"):
        decode_rgb(data, max_pixels=59_999)
