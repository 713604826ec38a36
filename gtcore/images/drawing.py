"""Drawing on decoded images: labeled boxes in class colours, mask overlays, captions, placeholders.

Every function returns a new image (inputs are never modified). Text (class names, reasons) is
drawn as pixels, so nothing a user typed ever reaches the browser as HTML.

    draw_boxes(image, boxes, *, scale=1.0, labels=True, color=None) -> Image
    overlay_mask(image, mask, colors, *, alpha=0.5, transparent=(0,)) -> Image
    draw_caption(image, text, rgb) -> Image          # a coloured band at the bottom (classification)
    placeholder(size, reason) -> Image               # grey tile that says why there is no picture
    legend_image(entries, *, width=260) -> Image     # swatch + name rows for a class map
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gtcore.core.colors import RGB, class_color, text_color_on

_FONT_FILES = ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "LiberationSans-Regular.ttf")
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


class BoxLike(Protocol):
    """What ``draw_boxes`` needs of a box (``gtcore.manifests.augmented.Box`` fits)."""

    @property
    def class_id(self) -> int: ...
    @property
    def class_name(self) -> str: ...
    @property
    def left(self) -> float: ...
    @property
    def top(self) -> float: ...
    @property
    def width(self) -> float: ...
    @property
    def height(self) -> float: ...


@lru_cache(maxsize=16)
def font(size: int) -> Font:
    """A TrueType font of ``size`` pixels (DejaVu when installed, else Pillow's built-in font)."""
    for name in _FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def _finite(*values: float) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def draw_boxes(
    image: Image.Image,
    boxes: Iterable[BoxLike],
    *,
    scale: float = 1.0,
    labels: bool = True,
    color: RGB | None = None,
    line_width: int | None = None,
) -> Image.Image:
    """Draw ``boxes`` (original-image pixels) on ``image`` shown at ``scale``, each in its class colour.

    Boxes with non-finite coordinates are skipped; a box label shows the class name.
    """
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    lw = line_width or max(3, round(min(out.size) / 150))
    fnt = font(max(10, min(18, round(min(out.size) / 22))))
    for b in boxes:
        if not _finite(b.left, b.top, b.width, b.height):
            continue
        rgb = color or class_color(b.class_id)
        x0, y0 = b.left * scale, b.top * scale
        x1, y1 = (b.left + b.width) * scale, (b.top + b.height) * scale
        x0, x1 = sorted((x0, x1))
        y0, y1 = sorted((y0, y1))
        draw.rectangle((x0, y0, max(x1 - 1, x0), max(y1 - 1, y0)), outline=rgb, width=lw)
        if labels and b.class_name:
            text = b.class_name[:40]
            tx0, ty0, tx1, ty1 = draw.textbbox((0, 0), text, font=fnt)
            tw, th = tx1 - tx0 + 6, ty1 - ty0 + 4
            ly = y0 - th if y0 - th >= 0 else y0 + lw
            lx = min(max(x0, 0), max(out.width - tw, 0))
            draw.rectangle((lx, ly, lx + tw, ly + th), fill=rgb)
            draw.text((lx + 3 - tx0, ly + 2 - ty0), text, fill=text_color_on(rgb), font=fnt)
    return out


def overlay_mask(
    image: Image.Image,
    mask: Image.Image,
    colors: Mapping[int, RGB],
    *,
    alpha: float = 0.5,
    transparent: Sequence[int] = (0,),
) -> Image.Image:
    """Blend a label mask over ``image``: pixel value = class index, coloured by ``colors``.

    ``mask`` is a palette ("P") or grey ("L") PNG whose values are class indices (Ground Truth's
    consolidated masks), or an RGB mask whose colours are the class colours. Classes listed in
    ``transparent`` (the background, index 0) are not painted. The mask is resized to the image
    with nearest-neighbour sampling so class edges stay crisp.
    """
    base = image.convert("RGBA")
    a = int(round(max(0.0, min(1.0, alpha)) * 255))
    if mask.size != base.size:
        mask = mask.resize(base.size, Image.Resampling.NEAREST)
    if mask.mode in ("P", "L"):
        idx = np.asarray(mask if mask.mode == "L" else mask.convert("P"), dtype=np.uint8)
        lut = np.zeros((256, 4), dtype=np.uint8)
        for k, rgb in colors.items():
            if 0 <= k < 256 and k not in transparent:
                lut[k] = (*rgb, a)
        rgba = lut[idx]
    else:
        px = np.asarray(mask.convert("RGB"), dtype=np.uint8)
        rgba = np.zeros((*px.shape[:2], 4), dtype=np.uint8)
        for k, rgb in colors.items():
            if k in transparent:
                continue
            hit = np.all(px == np.array(rgb, dtype=np.uint8), axis=-1)
            rgba[hit] = (*rgb, a)
    layer = Image.fromarray(rgba, "RGBA")
    return Image.alpha_composite(base, layer).convert("RGB")


def draw_caption(image: Image.Image, text: str, rgb: RGB) -> Image.Image:
    """A band in ``rgb`` across the bottom of ``image`` carrying ``text`` (class name and confidence)."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    fnt = font(max(11, min(20, round(out.width / 16))))
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=fnt)
    band = y1 - y0 + 10
    draw.rectangle((0, out.height - band, out.width, out.height), fill=rgb)
    draw.text((6 - x0, out.height - band + 5 - y0), text[:60], fill=text_color_on(rgb), font=fnt)
    return out


def placeholder(size: tuple[int, int], reason: str) -> Image.Image:
    """A grey tile with a crossed frame and ``reason`` wrapped inside: the picture could not be shown."""
    w, h = size
    out = Image.new("RGB", (w, h), (236, 236, 236))
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, w - 1, h - 1), outline=(170, 170, 170), width=2)
    draw.line((0, 0, w - 1, h - 1), fill=(215, 215, 215), width=1)
    draw.line((0, h - 1, w - 1, 0), fill=(215, 215, 215), width=1)
    fnt = font(max(10, min(14, w // 22)))
    size_px = int(getattr(fnt, "size", 11))
    lines = textwrap.wrap(reason, width=max(12, int(w / (size_px * 0.55)))) if reason else []
    y = 8
    for line in ["Image not shown:", *lines[: max(1, h // (size_px + 6) - 1)]]:
        draw.text((8, y), line, fill=(90, 90, 90), font=fnt)
        y += size_px + 4
    return out


def legend_image(entries: Sequence[tuple[str, RGB]], *, width: int = 260, row: int = 22) -> Image.Image:
    """Rows of a colour swatch and a class name (``entries`` = ``[(name, rgb), ...]``)."""
    h = max(row, row * len(entries)) + 4
    out = Image.new("RGB", (width, h), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    fnt = font(13)
    for i, (name, rgb) in enumerate(entries):
        y = 2 + i * row
        draw.rectangle((4, y + 3, 4 + row - 6, y + row - 3), fill=rgb, outline=(60, 60, 60))
        draw.text((row + 6, y + 3), name[:48], fill=(20, 20, 20), font=fnt)
    return out


def legend_strip(entries: Sequence[tuple[str, RGB]], *, width: int = 640, row: int = 20) -> Image.Image:
    """Colour swatches and class names side by side, wrapped onto more lines only when ``width`` is full."""
    fnt = font(13)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    items = [(name[:32], rgb, row + int(probe.textlength(name[:32], font=fnt)) + 14) for name, rgb in entries]
    lines, x = 1, 0
    for *_, w in items:
        if x and x + w > width:
            lines, x = lines + 1, 0
        x += w
    out = Image.new("RGB", (width, lines * row + 2), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    x = y = 0
    for name, rgb, w in items:
        if x and x + w > width:
            x, y = 0, y + row
        draw.rectangle((x + 2, y + 4, x + row - 4, y + row - 2), fill=rgb, outline=(60, 60, 60))
        draw.text((x + row + 2, y + 3), name, fill=(20, 20, 20), font=fnt)
        x += w
    return out.crop((0, 0, width if lines > 1 else max(1, x), out.height))
