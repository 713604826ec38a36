"""Safe image decoding and display-sized JPEGs. Drawing (boxes, masks, tiles) is in ``gtcore.images.drawing``.

Public API (used by the manifest viewer and the labeling page)::

    decode(data, *, max_side=None, uri="") -> Decoded(image, orig_size)   # RGB, EXIF-oriented, maybe reduced
    probe(data, *, uri="") -> ImageInfo(width, height, depth, format)      # header only, oriented size
    display_jpeg(data, max_side, *, quality=85, uri="") -> (jpeg_bytes, scale, (orig_w, orig_h))
    thumbnail(data, max_side, *, uri="") -> Decoded                       # alias of decode(max_side=...)
    to_jpeg(image, quality=85) -> bytes
    decode_mask(data, *, uri="") -> PIL.Image                              # a label PNG kept in its own mode
    fit_size((w, h), max_side) -> (w2, h2)

Coordinates: boxes are stored in pixels of the original image AFTER EXIF orientation, so
``orig_size`` is the oriented size and ``scale = displayed_width / orig_w``; a box ``left`` is drawn
at ``left * scale``.

Safety: at most ``MAX_PIXELS`` (100 megapixels) per image, checked from the header before any
pixel is decoded; Pillow's own decompression-bomb error, truncated data, files that are not images
and SVG/XML (never rasterised here) all raise ``ImageError`` with the reason. CMYK, 16-bit, float,
palette and alpha images are converted to 8-bit RGB (transparency composed onto white).
``Image.MAX_IMAGE_PIXELS`` and ``ImageFile.LOAD_TRUNCATED_IMAGES`` are never changed (process-wide).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gtcore.core.errors import ImageError
from gtcore.images.views import upscale_factor

MAX_PIXELS = 100_000_000
_ORIENTATION_TAG = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}


@dataclass(frozen=True)
class Decoded:
    """An RGB image ready to show, and the size of the oriented original it was made from."""

    image: Image.Image
    orig_size: tuple[int, int]

    @property
    def scale(self) -> float:
        """Displayed pixels per original pixel (1.0 when not reduced)."""
        return self.image.width / self.orig_size[0] if self.orig_size[0] else 1.0


@dataclass(frozen=True)
class ImageInfo:
    width: int  # oriented (EXIF applied)
    height: int
    depth: int  # channels in the source: 1 grey, 3 colour, 4 with alpha/CMYK
    format: str


def fit_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """The size that fits ``size`` within ``max_side`` keeping the aspect ratio (never enlarges)."""
    w, h = size
    if not max_side or max(w, h) <= max_side:
        return w, h
    f = max_side / max(w, h)
    return max(1, round(w * f)), max(1, round(h * f))


def _where(uri: str) -> str:
    return f"{uri}: " if uri else ""


def _open(data: bytes, uri: str) -> tuple[Image.Image, int]:
    """Open lazily (header only), refuse what must not be decoded, return (image, EXIF orientation)."""
    if not data:
        raise ImageError(f"{_where(uri)}empty file, not an image", uri=uri)
    head = data[:1024].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head:
        raise ImageError(f"{_where(uri)}SVG/XML is not shown (only raster images: JPEG, PNG, ...)", uri=uri)
    try:
        with warnings.catch_warnings():
            # our own limit below is the one that counts; Pillow's warning threshold is lower (89 MP)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{_where(uri)}refused: decompression bomb ({exc})", uri=uri) from None
    except UnidentifiedImageError:
        raise ImageError(f"{_where(uri)}not an image (format not recognised)", uri=uri) from None
    except Exception as exc:  # hostile headers can raise anything
        raise ImageError(f"{_where(uri)}cannot read the image header: {exc}", uri=uri) from None
    w, h = im.size
    if w <= 0 or h <= 0:
        raise ImageError(f"{_where(uri)}image has no pixels ({w}x{h})", uri=uri)
    if w * h > MAX_PIXELS:
        raise ImageError(
            f"{_where(uri)}refused: {w}x{h} = {w * h / 1e6:.0f} megapixels is above the "
            f"{MAX_PIXELS // 1_000_000} MP limit (possible decompression bomb)",
            uri=uri,
        )
    try:
        orientation = int(im.getexif().get(_ORIENTATION_TAG, 1) or 1)
    except Exception:  # a broken EXIF block must not hide the picture
        orientation = 1
    return im, orientation


def probe(data: bytes, *, uri: str = "") -> ImageInfo:
    """Size (EXIF-oriented), channel count and format from the header, without decoding pixels."""
    im, orientation = _open(data, uri)
    w, h = im.size
    if orientation in _SWAPS_AXES:
        w, h = h, w
    bands = len(im.getbands())
    depth = 1 if im.mode in ("1", "L", "I", "F") or im.mode.startswith("I;") else (3 if bands == 3 else bands)
    if im.mode == "P":
        depth = 3
    return ImageInfo(width=w, height=h, depth=depth, format=im.format or "")


def _to_rgb(im: Image.Image, uri: str) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("1", "L", "CMYK", "YCbCr", "HSV"):
        return im.convert("RGB")
    if mode == "I" or mode.startswith("I;16") or mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        if mode.startswith("I;16") or (mode == "I" and arr.max(initial=0) > 255):
            top = 65535.0 if arr.max(initial=0) <= 65535 else float(arr.max())
            arr = arr * (255.0 / top)
        elif mode == "F":
            lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
            arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        grey = Image.fromarray(np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8), "L")
        return grey.convert("RGB")
    if mode == "P" and "transparency" not in im.info:
        return im.convert("RGB")
    try:
        rgba = im.convert("RGBA")
    except Exception as exc:
        raise ImageError(f"{_where(uri)}colour mode {mode} cannot be shown: {exc}", uri=uri) from None
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def decode(data: bytes, *, max_side: int | None = None, uri: str = "", resize: bool = True) -> Decoded:
    """Decode ``data`` safely into an RGB image, EXIF orientation applied, reduced to ``max_side``.

    ``resize=False`` stops after the decoder's own reduction (JPEG: 1/2, 1/4, 1/8): the image is then at
    least as large as ``max_side`` asks, and larger for formats without one (the zoomed canvas crops it).

    Raises:
        ImageError: empty, not an image, SVG, above 100 MP, decompression bomb, truncated or corrupt.
    """
    im, orientation = _open(data, uri)
    raw_w, raw_h = im.size
    orig = (raw_h, raw_w) if orientation in _SWAPS_AXES else (raw_w, raw_h)
    try:
        if max_side and im.format == "JPEG":
            # let libjpeg decode at 1/2, 1/4 or 1/8 scale: much faster for thumbnails
            im.draft("RGB", fit_size((raw_w, raw_h), max_side))
        im.load()
        if getattr(im, "n_frames", 1) > 1:
            im.seek(0)
        if orientation != 1:
            im = ImageOps.exif_transpose(im)
        im = _to_rgb(im, uri)
        target = fit_size(orig, max_side)
        if resize and im.size != target:
            im = im.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    except ImageError:
        raise
    except Exception as exc:  # truncated, corrupt, unsupported codec options ...
        raise ImageError(f"{_where(uri)}cannot decode the image (truncated or corrupt): {exc}", uri=uri) from None
    return Decoded(image=im, orig_size=orig)


def thumbnail(data: bytes, max_side: int, *, uri: str = "") -> Decoded:
    return decode(data, max_side=max_side, uri=uri)


def to_jpeg(image: Image.Image, quality: int = 85, *, crisp: bool = False) -> bytes:
    """JPEG bytes of ``image``. ``crisp`` keeps full colour resolution (4:4:4): thin coloured lines of
    drawn labels keep their class colour instead of bleeding into the background (about 20% larger)."""
    buf = io.BytesIO()
    extra = {"subsampling": 0} if crisp else {}
    image.convert("RGB").save(buf, format="JPEG", quality=quality, optimize=False, **extra)
    return buf.getvalue()


def display_jpeg(
    data: bytes, max_side: int, *, quality: int = 85, uri: str = ""
) -> tuple[bytes, float, tuple[int, int]]:
    """A display-sized JPEG of ``data``: ``(jpeg_bytes, scale, (orig_w, orig_h))``.

    ``scale`` is displayed pixels per original (oriented) pixel: multiply stored box coordinates by it
    to draw on the JPEG, divide canvas coordinates by it to store them. A small image (a 64 px digit) is
    enlarged by a whole factor (``views.upscale_factor``, within ``max_side``), nearest neighbour: crisp pixels.
    """
    d = decode(data, max_side=max_side, uri=uri)
    image = d.image
    factor = min(upscale_factor(d.orig_size), max_side // max(d.orig_size)) if image.size == d.orig_size else 1
    if factor > 1:
        image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
        d = Decoded(image=image, orig_size=d.orig_size)
    return to_jpeg(image, quality), d.scale, d.orig_size


def decode_mask(data: bytes, *, uri: str = "") -> Image.Image:
    """A label mask PNG, safely decoded, kept in its own mode ("P" indices, "L", or "RGB")."""
    im, _ = _open(data, uri)
    try:
        im.load()
    except Exception as exc:
        raise ImageError(f"{_where(uri)}cannot decode the mask (truncated or corrupt): {exc}", uri=uri) from None
    if im.mode not in ("P", "L", "RGB", "RGBA"):
        im = im.convert("RGB")
    return im
