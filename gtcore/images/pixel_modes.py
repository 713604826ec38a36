"""Pixels of any stored mode made 8-bit RGB in bounded memory (for ``gtcore.images.decoding``): 16-bit, 32-bit and
float grey scaled to 8 bits in strips of rows (float32, about ``STRIP_BYTES`` at a time, never full-size float64
copies), CMYK, palette and alpha converted (transparency composed onto white), and a reduction by an integer factor
in the stored mode before any conversion."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

from gtcore.core.errors import ImageError
from gtcore.images.decode_limits import mode_bytes

STRIP_BYTES = 16 << 20
DEEP_GREY = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N", "I;16S")  # converted by to_grey8 before anything else


def uri_prefix(uri: str) -> str:
    """``"<uri>: "`` to start an error message, or nothing without a URI."""
    return f"{uri}: " if uri else ""


def _strips(im: Image.Image) -> Iterator[tuple[int, np.ndarray]]:
    """(top row, float32 array) of ``im`` a strip of rows at a time (about ``STRIP_BYTES`` each)."""
    w, h = im.size
    rows = max(1, STRIP_BYTES // max(1, w * 4))
    for y in range(0, h, rows):
        yield y, np.array(im.crop((0, y, w, min(h, y + rows))), dtype=np.float32)  # a writable copy


def to_grey8(im: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float grey image scaled to 8 bits, a strip at a time: 16-bit by 255/65535, ``I`` by
    its maximum when above 255, float from its finite minimum..maximum to 0..255 (NaN black)."""
    mode = im.mode
    lo, hi = 0.0, 255.0
    if mode.startswith("I;16"):
        hi = 65535.0
    else:
        finite_lo, finite_hi = np.inf, -np.inf
        for _y, arr in _strips(im):
            good = arr[np.isfinite(arr)]
            if good.size:
                finite_lo, finite_hi = min(finite_lo, float(good.min())), max(finite_hi, float(good.max()))
        if mode == "F" and finite_hi > finite_lo:
            lo, hi = finite_lo, finite_hi
        elif mode == "F":
            lo, hi = 0.0, np.inf  # constant or empty: black
        elif finite_hi > 255:
            hi = 65535.0 if finite_hi <= 65535 else finite_hi
    out = Image.new("L", im.size)
    factor = np.float32(255.0 / (hi - lo)) if np.isfinite(hi) and hi > lo else np.float32(0.0)
    for y, arr in _strips(im):
        arr -= np.float32(lo)
        arr *= factor
        np.nan_to_num(arr, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
        np.clip(arr, 0, 255, out=arr)
        out.paste(Image.fromarray(arr.astype(np.uint8), "L"), (0, y))
    return out


def to_rgb(im: Image.Image, uri: str) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("1", "L", "CMYK", "YCbCr", "HSV"):
        return im.convert("RGB")
    if mode == "I" or mode.startswith("I;16") or mode == "F":
        return to_grey8(im).convert("RGB")
    if mode == "P" and "transparency" not in im.info:
        return im.convert("RGB")
    try:
        rgba = im if mode == "RGBA" else im.convert("RGBA")
    except Exception as exc:
        raise ImageError(f"{uri_prefix(uri)}colour mode {mode} cannot be shown: {exc}", uri=uri) from None
    out = Image.new("RGB", rgba.size, (255, 255, 255))
    out.paste(rgba, mask=rgba)  # an RGBA mask: its alpha band, without a copy of it
    return out


def reduced(im: Image.Image, max_side: int | None) -> Image.Image:
    """``im`` reduced by the largest integer factor that keeps it at least ``max_side`` (in its stored mode, so
    the conversions after it touch fewer pixels); unchanged when no factor applies or the mode has no reduce."""
    if not max_side:
        return im
    factor = max(im.size) // max_side
    if factor < 2 or im.mode in ("P", "1") or im.mode.startswith("I;16"):  # no reduce for these modes
        return im
    w, h = im.size
    rows = factor * max(1, STRIP_BYTES // max(1, w * mode_bytes(im.mode) * factor))
    out = Image.new(im.mode, (-(-w // factor), -(-h // factor)))
    for y in range(0, h, rows):  # a strip at a time: RGBA's premultiplied copy stays a strip
        out.paste(im.crop((0, y, w, min(h, y + rows))).reduce(factor), (0, y // factor))
    return out
