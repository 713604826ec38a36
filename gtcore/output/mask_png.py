"""Mask PNGs of semantic segmentation: the workers' colour PNGs in, Ground Truth's palette PNG out.

- ``encode_palette_png(classes, colors)``: the consolidated mask as Ground Truth writes it
  (groundtruth-reference.md 1.5, checked byte for byte against ``realdata/semseg-pcb/mask.png``): mode "P",
  8 bits per pixel, pixel value = class index, a full 256-entry PLTE whose entry i is the colour of class i
  and whose unused entries are #ffffff, no other chunk.
- ``decode_color_png(data, colors, size)``: a worker's ``labeledImage.pngImageData`` (RGB, RGBA or palette
  PNG, each pixel painted in a class colour; fully transparent pixels count as BACKGROUND) -> class-index
  array. Refused with a clear message: not a PNG, more than ``MAX_PIXELS`` (checked from the header before
  any pixel is decoded), a size other than the image's, colours outside the job's palette (the message gives
  how many pixels and the first offending colours and positions).
- ``decode_index_png(data)``: a palette PNG of an earlier job (adjustment, viewer) -> (class indices, palette).
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from gtcore.core.colors import parse_hex
from gtcore.core.errors import Problem, ValidationError

MAX_PIXELS = 100_000_000  # as for images (gtcore.images.decoding)
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SHOWN = 5


class MaskError(ValidationError):
    """A mask PNG that cannot be used; the message says why."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__([Problem(message, field=field or None)], summary="the mask is not valid")
        self.reason = message


def encode_palette_png(classes: np.ndarray, colors: list[str]) -> bytes:
    """``classes`` (H x W, uint8 class indices) -> Ground Truth's palette PNG bytes."""
    if classes.ndim != 2:
        raise ValueError(f"a mask is two-dimensional, got shape {classes.shape}")
    if len(colors) > 256:
        raise ValueError(f"a palette PNG holds at most 256 classes, got {len(colors)}")
    palette: list[int] = []
    for c in colors:
        palette.extend(parse_hex(c))
    palette.extend([255] * (768 - len(palette)))
    im = Image.fromarray(np.ascontiguousarray(classes, dtype=np.uint8), "P")
    im.putpalette(palette)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def png_from_base64(text: object, field: str = "pngImageData") -> bytes:
    if not isinstance(text, str) or not text:
        raise MaskError("must be the base64 text of a PNG", field)
    body = text.split(",", 1)[1] if text.startswith("data:") else text
    try:
        data = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise MaskError("is not valid base64", field) from None
    return data


def _open(data: bytes, field: str) -> Image.Image:
    if not data.startswith(_PNG_MAGIC):
        raise MaskError("is not a PNG image", field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise MaskError(f"refused: decompression bomb ({exc})", field) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise MaskError(f"cannot be read as a PNG: {exc}", field) from None
    w, h = im.size
    if w <= 0 or h <= 0 or w * h > MAX_PIXELS:
        raise MaskError(
            f"refused: {w}x{h} = {w * h / 1e6:.0f} megapixels; a mask is at most {MAX_PIXELS // 1_000_000} MP", field
        )
    return im


def _stray(bad: np.ndarray, colour_of: np.ndarray, colors: list[str], field: str) -> MaskError:
    """The message for pixels whose colour is not in the palette (``colour_of``: their 0xRRGGBB codes)."""
    ys, xs = np.nonzero(bad)
    stray = sorted({int(v) for v in np.unique(colour_of)[:_SHOWN]})
    where = ", ".join(f"({int(x)}, {int(y)})" for x, y in zip(xs[:_SHOWN], ys[:_SHOWN], strict=True))
    return MaskError(
        f"{int(bad.sum())} pixel(s) have colours outside the job's palette "
        f"({', '.join(f'#{v:06x}' for v in stray)}; first at x,y {where}); allowed: {', '.join(colors)}",
        field,
    )


def _keys(colors: list[str]) -> list[int]:
    return [(r << 16) | (g << 8) | b for r, g, b in map(parse_hex, colors)]


def colors_to_classes(rgb: np.ndarray, colors: list[str], field: str = "pngImageData") -> np.ndarray:
    """H x W x 3 colours -> class indices by exact match with ``colors``; MaskError naming stray colours.

    One comparison pass per palette colour (a job has at most a few dozen), no sort of the pixels.
    """
    code = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    out = np.zeros(code.shape, dtype=np.uint8)
    known = np.zeros(code.shape, dtype=bool)
    for i, key in enumerate(_keys(colors)):
        hit = code == key
        out[hit] = i
        known |= hit
    if not known.all():
        raise _stray(~known, code[~known], colors, field)
    return out


def _palette_classes(im: Image.Image, colors: list[str], field: str) -> np.ndarray:
    """A palette PNG: map its (at most 256) entries to classes, then look every pixel up: no RGB expansion."""
    raw = (im.getpalette() or []) + [0] * 768
    alpha = np.full(256, 255, dtype=np.int32)
    trns = im.info.get("transparency")
    if isinstance(trns, bytes):
        alpha[: len(trns)] = np.frombuffer(trns, dtype=np.uint8)
    elif isinstance(trns, int) and 0 <= trns < 256:
        alpha[trns] = 0
    keys = {k: i for i, k in enumerate(_keys(colors))}
    lut = np.zeros(256, dtype=np.uint8)
    ok = np.ones(256, dtype=bool)
    entry_code = np.zeros(256, dtype=np.uint32)
    for e in range(256):
        code = (raw[3 * e] << 16) | (raw[3 * e + 1] << 8) | raw[3 * e + 2]
        entry_code[e] = code
        if alpha[e] == 0:
            lut[e] = 0  # transparent = not painted = BACKGROUND
        elif code in keys:
            lut[e] = keys[code]
        else:
            ok[e] = False
    try:
        idx = np.asarray(im, dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise MaskError(f"cannot be decoded: {exc}", field) from None
    used = np.bincount(idx.ravel(), minlength=256) > 0
    if (used & ~ok).any():
        bad = ~ok[idx]
        raise _stray(bad, entry_code[idx[bad]], colors, field)
    return lut[idx]


def decode_color_png(data: bytes, colors: list[str], size: tuple[int, int], field: str = "pngImageData") -> np.ndarray:
    """A worker's colour PNG -> class indices (H x W uint8), checked against ``size`` (w, h) and ``colors``.

    Palette PNGs (what the labeling page sends) are mapped through their palette; RGB and RGBA PNGs pixel by
    pixel (fully transparent pixels are BACKGROUND).
    """
    im = _open(data, field)
    if im.size != tuple(size):
        raise MaskError(
            f"the mask is {im.size[0]}x{im.size[1]} px but the image is {size[0]}x{size[1]} px; "
            "a mask has the size of its image",
            field,
        )
    if im.mode == "P":
        return _palette_classes(im, colors, field)
    try:
        if im.mode == "RGBA":
            rgba = np.asarray(im)
            rgb = rgba[..., :3].copy()
            rgb[rgba[..., 3] == 0] = 255
        else:
            rgb = np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise MaskError(f"cannot be decoded: {exc}", field) from None
    return colors_to_classes(rgb, colors, field)


def decode_index_png(data: bytes, field: str = "mask") -> tuple[np.ndarray, list[str]]:
    """A palette PNG (an earlier job's output) -> (class indices, the palette's hex colours, 256 entries)."""
    im = _open(data, field)
    if im.mode != "P":
        raise MaskError(f"is a {im.mode} PNG; Ground Truth masks are palette (P) PNGs", field)
    raw = im.getpalette() or []
    raw = raw + [255] * (768 - len(raw))
    palette = [f"#{raw[i]:02x}{raw[i + 1]:02x}{raw[i + 2]:02x}" for i in range(0, 768, 3)]
    try:
        return np.asarray(im, dtype=np.uint8), palette
    except (OSError, ValueError) as exc:
        raise MaskError(f"cannot be decoded: {exc}", field) from None
