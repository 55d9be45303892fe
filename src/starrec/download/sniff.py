"""Is this really an image? Decided by decoding the content (PIL), never by the file name,
so an HTML error page saved as `.jpg` or a half-written JPEG is caught here."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from starrec.download.raw_manifest import Status

EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "BMP": "bmp",
              "WEBP": "webp", "TIFF": "tif"}


class BadImage(ValueError):
    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sniff_image(data: bytes, max_pixels: int) -> str:
    """The file extension for `data` if it fully decodes as a supported image of at most
    `max_pixels` pixels (checked before decoding: a decompression bomb), else BadImage."""
    if not data:
        raise BadImage(Status.NOT_IMAGE, "empty file")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, width, height = img.format or "", img.width, img.height
            if width * height <= max_pixels:
                img.load()
    except UnidentifiedImageError:
        raise BadImage(Status.NOT_IMAGE, f"not an image ({_describe(data)})") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        status = Status.TRUNCATED if "truncated" in str(exc) else Status.UNREADABLE
        raise BadImage(status, f"cannot decode image: {exc}") from None
    if width * height > max_pixels:
        raise BadImage(Status.TOO_LARGE, f"image too large: {width}x{height} pixels > "
                       f"download.max_image_pixels {max_pixels}")
    if fmt not in EXTENSIONS:
        raise BadImage(Status.NOT_IMAGE, f"unsupported image format {fmt or 'unknown'}")
    return EXTENSIONS[fmt]


def _describe(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "HTML page"
    return f"starts with {data[:8].hex()}"
