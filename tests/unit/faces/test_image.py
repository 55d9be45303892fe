"""Reading photos of every mode and orientation: each must still show its face upright."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from helpers.params import section
from PIL import Image

from starrec.faces.detect import faces_in_image
from starrec.faces.image import UnreadableImage, decode_rgb

CFG = section("extract", detector="haar", min_face_size=40, image_size=64, color_mode="gray",
              policy="largest")


@pytest.fixture(scope="module")
def photo(lfw10: Path) -> Image.Image:
    return Image.open(lfw10 / "Tony_Blair" / "Tony_Blair_0001.jpg").convert("RGB")


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def rgba_on_transparent(photo: Image.Image) -> Image.Image:
    """The photo with its outer band fully transparent (black there, so compositing shows)."""
    arr = np.asarray(photo)
    alpha = np.zeros(arr.shape[:2], np.uint8)
    alpha[20:-20, 20:-20] = 255
    rgb = arr.copy()
    rgb[alpha == 0] = 0
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


def sixteen_bit(photo: Image.Image) -> Image.Image:
    gray = np.asarray(photo.convert("L"), dtype=np.uint16) * 257  # full 16-bit range
    return Image.fromarray(gray)


@pytest.mark.parametrize(("make", "fmt", "mode"), [
    (lambda p: p.convert("L"), "JPEG", "L"),
    (lambda p: p.convert("LA"), "PNG", "LA"),
    (rgba_on_transparent, "PNG", "RGBA"),
    (lambda p: p.convert("P", palette=Image.Palette.ADAPTIVE, colors=256), "PNG", "P"),
    (lambda p: p.convert("CMYK"), "JPEG", "CMYK"),
    (lambda p: p.convert("CMYK"), "TIFF", "CMYK"),
    (sixteen_bit, "PNG", "I;16"),
    (sixteen_bit, "TIFF", "I;16"),
], ids=["gray-jpeg", "gray-alpha-png", "rgba-png", "palette-png", "cmyk-jpeg", "cmyk-tiff",
        "16bit-png", "16bit-tiff"])
def test_every_mode_reads_as_the_same_photo(photo: Image.Image, make, fmt: str, mode: str) -> None:
    data = encode(make(photo), fmt)
    assert Image.open(io.BytesIO(data)).mode == mode  # the file really is in that mode
    rgb = decode_rgb(data)
    assert rgb.dtype == np.uint8 and rgb.shape == (250, 250, 3)
    gray_ref = np.asarray(photo.convert("L"), dtype=np.float64)
    inner = np.s_[30:-30, 30:-30]  # away from the transparent band
    assert np.abs(rgb.mean(axis=2)[inner] - gray_ref[inner]).mean() < 12  # same picture, same brightness
    assert len(faces_in_image(rgb, CFG)) == 1


def test_transparent_pixels_become_white(photo: Image.Image) -> None:
    rgb = decode_rgb(encode(rgba_on_transparent(photo), "PNG"))
    assert (rgb[:10, :10] == 255).all()


def test_exif_orientation_is_applied(photo: Image.Image) -> None:
    """A photo stored sideways with orientation 6 ("rotate 90° CW to view") is read upright."""
    stored = photo.transpose(Image.Transpose.ROTATE_90)  # sideways on disk
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(stored, "JPEG", exif=exif, quality=95)
    assert faces_in_image(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), CFG) == []
    upright = decode_rgb(data)
    assert np.abs(upright.astype(int) - np.asarray(photo, dtype=int)).mean() < 6
    assert len(faces_in_image(upright, CFG)) == 1


@pytest.mark.parametrize(("data", "why"), [
    (b"", "empty file"),
    (b"name,url\nbrad,http://example.com/x.jpg\n", "not a readable image"),
    (b"<html><body>404 Not Found</body></html>", "not a readable image"),
])
def test_non_images_are_refused_with_a_reason(data: bytes, why: str) -> None:
    with pytest.raises(UnreadableImage, match=why):
        decode_rgb(data)


def test_truncated_jpeg_is_refused(photo: Image.Image) -> None:
    data = encode(photo, "JPEG")
    with pytest.raises(UnreadableImage, match="not a readable image"):
        decode_rgb(data[: len(data) // 3])
