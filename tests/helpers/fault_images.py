"""Awkward image files for the fault suite, made on the fly (real faces from the shared LFW
photos, never copied into the repo)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

HTML = b"<!DOCTYPE html><html><body>Sorry, this photo was removed</body></html>"


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A 1-bit gray PNG of width x height black pixels: a few KB that decode to w*h bytes
    (and 3x that as RGB). Streamed, so making it costs no memory."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def modes(photo: Path) -> dict[str, bytes]:
    """One real face photo in the modes web photos come in, each a file of its own."""
    img = Image.open(photo).convert("RGB")
    gray = np.asarray(img.convert("L"), dtype=np.uint16) * 257
    rgba = img.convert("RGBA")
    alpha = np.full(img.size[::-1], 255, np.uint8)
    alpha[:8], alpha[-8:] = 0, 0  # transparent bands: composited over white
    rgba.putalpha(Image.fromarray(alpha))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned left; shown upright after a right turn
    return {
        "cmyk.jpg": encode(img.convert("CMYK"), "JPEG", quality=95),
        "gray16.png": encode(Image.fromarray(gray), "PNG"),
        "alpha.png": encode(rgba, "PNG"),
        "palette.png": encode(img.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
        "exif_rotated.jpg": encode(img.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=95,
                                   exif=exif.tobytes()),
    }


def group_photo(photos: list[Path]) -> bytes:
    """Four face photos tiled 2x2: a group shot."""
    tiles = [Image.open(p).convert("RGB") for p in photos[:4]]
    w, h = tiles[0].size
    sheet = Image.new("RGB", (2 * w, 2 * h))
    for k, tile in enumerate(tiles):
        sheet.paste(tile.resize((w, h)), ((k % 2) * w, (k // 2) * h))
    return encode(sheet, "JPEG", quality=90)


def no_face(seed: int = 0) -> bytes:
    """A smooth coloured gradient with noise: a valid photo of nobody."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:240, 0:320]
    img = np.stack([x * 255 / 320, y * 255 / 240, (x + y) * 255 / 560], axis=2)
    img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
    return encode(Image.fromarray(img), "JPEG", quality=90)
