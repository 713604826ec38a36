"""Safe image decoding and display-sized JPEGs. Drawing (boxes, masks, tiles) is in ``gtcore.images.drawing``.

Public API (used by the manifest viewer and the labeling page)::

    decode(data, *, max_side=None, uri="") -> Decoded(image, orig_size)   # RGB, EXIF-oriented, maybe reduced
    probe(data, *, uri="") -> ImageInfo(width, height, depth, format)      # header only, oriented size
    display_jpeg(data, max_side, *, quality=85, uri="") -> (jpeg_bytes, scale, (orig_w, orig_h))
    to_jpeg(image, quality=85) -> bytes
    decode_mask(data, *, uri="") -> PIL.Image                              # a label PNG kept in its own mode
    fit_size((w, h), max_side) -> (w2, h2)

Coordinates: boxes are stored in pixels of the original image AFTER EXIF orientation, so
``orig_size`` is the oriented size and ``scale = displayed_width / orig_w``; a box ``left`` is drawn
at ``left * scale``.

Safety, checked from the header before any pixel is decoded: at most ``MAX_PIXELS`` (100 megapixels), and a
memory budget in BYTES: width x height x bytes per pixel as stored (a 16-bit grey pixel is 2 bytes, a float
one 4, RGBA 4) at most ``Settings.max_decode_bytes`` (``GT_MAX_DECODE_BYTES``). At most
``Settings.decode_concurrency`` decodes run at once in a process (a semaphore: the viewer's tile threads and the
prefetch wait their turn). Pillow's own decompression-bomb error, truncated data, files that are not images and
SVG/XML (never rasterised here) all raise ``ImageError`` with the reason.

CMYK, 16-bit, float, palette and alpha images are converted to 8-bit RGB (transparency composed onto white) in
bounded memory: a decode asked for a smaller size is first reduced by an integer factor (``Image.reduce``) in
the stored mode, and 16-bit, 32-bit and float pixels are scaled to 8 bits in strips of rows (float32, about
``pixel_modes.STRIP_BYTES`` at a time), never as full-size float64 copies. The peak is about the stored pixels plus the
8-bit result (``bench/bench_decode.py``); those conversions are in ``gtcore.images.pixel_modes``.
``Image.MAX_IMAGE_PIXELS`` and ``ImageFile.LOAD_TRUNCATED_IMAGES`` are never changed (process-wide).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from gtcore.core.errors import ImageError
from gtcore.images.decode_limits import _TRIM_BYTES, _limits, _trim, max_decode_bytes, mode_bytes
from gtcore.images.decode_limits import configure as configure  # re-exported: decoding.configure(...)
from gtcore.images.pixel_modes import DEEP_GREY, reduced, to_grey8, to_rgb, uri_prefix
from gtcore.images.views import upscale_factor

MAX_PIXELS = 100_000_000
_ORIENTATION_TAG = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


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


def _open(data: bytes, uri: str) -> tuple[Image.Image, int]:
    """Open lazily (header only), refuse what must not be decoded, return (image, EXIF orientation)."""
    if not data:
        raise ImageError(f"{uri_prefix(uri)}empty file, not an image", uri=uri)
    head = data[:1024].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head:
        raise ImageError(f"{uri_prefix(uri)}SVG/XML is not shown (only raster images: JPEG, PNG, ...)", uri=uri)
    try:
        with warnings.catch_warnings():
            # our own limit below is the one that counts; Pillow's warning threshold is lower (89 MP)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{uri_prefix(uri)}refused: decompression bomb ({exc})", uri=uri) from None
    except UnidentifiedImageError:
        raise ImageError(f"{uri_prefix(uri)}not an image (format not recognised)", uri=uri) from None
    except Exception as exc:  # hostile headers can raise anything
        raise ImageError(f"{uri_prefix(uri)}cannot read the image header: {exc}", uri=uri) from None
    w, h = im.size
    if w <= 0 or h <= 0:
        raise ImageError(f"{uri_prefix(uri)}image has no pixels ({w}x{h})", uri=uri)
    if w * h > MAX_PIXELS:
        raise ImageError(
            f"{uri_prefix(uri)}refused: {w}x{h} = {w * h / 1e6:.0f} megapixels is above the "
            f"{MAX_PIXELS // 1_000_000} MP limit (possible decompression bomb)",
            uri=uri,
        )
    need, budget = w * h * mode_bytes(im.mode), max_decode_bytes()
    if need > budget:
        raise ImageError(
            f"{uri_prefix(uri)}refused: {w}x{h} pixels of mode {im.mode} need {need / 1e6:.0f} MB to decode, above "
            f"the {budget / 1e6:.0f} MB limit (GT_MAX_DECODE_BYTES)",
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


def decode(data: bytes, *, max_side: int | None = None, uri: str = "", resize: bool = True) -> Decoded:
    """Decode ``data`` safely into an RGB image, EXIF orientation applied, reduced to ``max_side``.

    ``resize=False`` stops after the decoder's own reduction (JPEG: 1/2, 1/4, 1/8): the image is then at
    least as large as ``max_side`` asks, and larger for formats without one (the zoomed canvas crops it).

    Raises:
        ImageError: empty, not an image, SVG, above 100 MP, decompression bomb, truncated or corrupt.
    """
    _open(data, uri)  # the header's refusals come at once, without waiting for a decode thread
    return _limits.run(lambda: _decode_now(data, max_side, uri, resize))


def _decode_now(data: bytes, max_side: int | None, uri: str, resize: bool) -> Decoded:
    """The decode proper, on a decode thread; only this frame holds the pixels, so each step frees the last."""
    im, orientation = _open(data, uri)
    raw_w, raw_h = im.size
    orig = (raw_h, raw_w) if orientation in _SWAPS_AXES else (raw_w, raw_h)
    big = raw_w * raw_h * mode_bytes(im.mode) >= _TRIM_BYTES
    held = [im]
    del im  # _pixels takes the only reference: each of its steps frees the previous image
    try:
        return Decoded(image=_pixels(held, orientation, orig, max_side, resize, uri), orig_size=orig)
    except ImageError:
        raise
    except Exception as exc:  # truncated, corrupt, unsupported codec options ...
        raise ImageError(f"{uri_prefix(uri)}cannot decode the image (truncated or corrupt): {exc}", uri=uri) from None
    finally:
        if big:
            _trim()


def _pixels(
    held: list[Image.Image], orientation: int, orig: tuple[int, int], max_side: int | None, resize: bool, uri: str
) -> Image.Image:
    """Load, 8 bits, reduce, RGB, orientation, resize (``held`` hands over the only reference to the image)."""
    im = held.pop()
    raw_w, raw_h = im.size
    if max_side and im.format == "JPEG":
        # let libjpeg decode at 1/2, 1/4 or 1/8 scale: much faster for thumbnails
        im.draft("RGB", fit_size((raw_w, raw_h), max_side))
    im.load()
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)
    if im.mode in DEEP_GREY:
        im = to_grey8(im)  # the deep original is freed here, before any full-size RGB exists
    im = reduced(im, max_side)
    im = reduced(to_rgb(im, uri), max_side)  # modes without reduce (P, 1): after their conversion
    if orientation in _TRANSPOSE:
        im = im.transpose(_TRANSPOSE[orientation])  # what ImageOps.exif_transpose does
    target = fit_size(orig, max_side)
    if resize and im.size != target:
        im = im.resize(target, Image.Resampling.LANCZOS, reducing_gap=2.0)
    return im


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
        _limits.run(im.load)
    except Exception as exc:
        raise ImageError(f"{uri_prefix(uri)}cannot decode the mask (truncated or corrupt): {exc}", uri=uri) from None
    if im.mode not in ("P", "L", "RGB", "RGBA"):
        im = im.convert("RGB")
    return im
