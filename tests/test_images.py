"""Safe decoding (limits, bombs, broken files, SVG), EXIF orientation, colour modes, display JPEGs,
class colours, and drawing boxes, captions and masks (real image files made with Pillow)."""

from __future__ import annotations

import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gtcore.core import colors
from gtcore.core.errors import ImageError
from gtcore.images import decoding as images
from gtcore.images import drawing
from gtcore.manifests.augmented import Box
from tests.fixtures.core import realdata_or_skip


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (no pixel data follows): what a bomb looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + b"\xff" * 17, "not an image"),
        (b"hello, this is text", "not an image"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG/XML is not shown"),
        (b"  <svg width='10' height='10'></svg>", "SVG/XML is not shown"),
        (_png_header_only(12_000, 9_000), "108 megapixels is above the 100 MP limit"),
        (_png_header_only(20_000, 20_000), "decompression bomb"),
    ],
)
def test_refused_inputs_raise_image_error_with_the_reason(data: bytes, reason: str) -> None:
    with pytest.raises(ImageError, match=reason) as err:
        images.decode(data, max_side=200, uri="s3://b/bad.png")
    assert err.value.uri == "s3://b/bad.png" and "s3://b/bad.png" in str(err.value)


def test_truncated_files_raise_image_error() -> None:
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 400, 3), dtype=np.uint8))
    for fmt in ("JPEG", "PNG"):
        data = _encode(noise, fmt)
        with pytest.raises(ImageError, match="truncated or corrupt"):
            images.decode(data[: len(data) // 2])
    assert images.probe(_png_header_only(10_000, 9_999)).width == 10_000  # the header alone is fine to read


def test_exif_orientation_is_applied_and_sizes_are_oriented() -> None:
    img = Image.new("RGB", (400, 200), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 40, 40))  # red marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = _encode(img, "JPEG", exif=exif, quality=95)
    assert images.probe(data).width == 200 and images.probe(data).height == 400
    d = images.decode(data)
    assert d.orig_size == (200, 400) and d.image.size == (200, 400)
    r, g, b = d.image.getpixel((190, 10))  # stored top-left shows at the top-right
    assert r > 200 and b < 60
    jpeg, scale, orig = images.display_jpeg(data, 100)
    assert orig == (200, 400) and scale == 0.25
    assert Image.open(io.BytesIO(jpeg)).size == (50, 100)


def test_display_jpeg_reduces_large_images_and_enlarges_only_small_ones_crisply() -> None:
    big = _encode(Image.new("RGB", (4000, 3000), (10, 200, 30)), "JPEG")
    jpeg, scale, orig = images.display_jpeg(big, 1000)
    out = Image.open(io.BytesIO(jpeg))
    assert (out.size, scale, orig, out.format) == ((1000, 750), 0.25, (4000, 3000), "JPEG")
    assert abs(out.getpixel((500, 300))[1] - 200) < 8
    medium = _encode(Image.new("RGB", (400, 300)), "PNG")
    assert images.display_jpeg(medium, 1000)[1:] == (1.0, (400, 300))
    digit = Image.new("RGB", (64, 64), (255, 255, 255))
    digit.paste((0, 0, 0), (0, 0, 32, 64))  # left half black: nearest neighbour keeps a sharp edge
    jpeg, scale, orig = images.display_jpeg(_encode(digit, "PNG"), 1000)
    out = Image.open(io.BytesIO(jpeg)).convert("L")
    assert (out.size, scale, orig) == ((320, 320), 5.0, (64, 64))
    assert out.getpixel((158, 100)) < 40 and out.getpixel((162, 100)) > 215  # no blur across the edge
    assert images.display_jpeg(_encode(digit, "PNG"), 160)[1] == 2.0  # within max_side
    assert images.fit_size((3, 1000), 100) == (1, 100)


def _rgb_of(img: Image.Image, fmt: str, **kw: object) -> tuple[int, ...]:
    d = images.decode(_encode(img, fmt, **kw))
    assert d.image.mode == "RGB"
    return tuple(d.image.getpixel((1, 1)))


def test_colour_modes_become_8_bit_rgb() -> None:
    assert _rgb_of(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", quality=100)[0] > 230  # red in CMYK
    grey16 = Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))
    assert _rgb_of(grey16, "PNG") == (255, 255, 255)
    half = Image.fromarray(np.full((8, 8), 32896, dtype=np.uint16))
    assert _rgb_of(half, "PNG") == (128, 128, 128)  # scaled, not clipped to 255
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    assert _rgb_of(pal, "PNG") == (10, 20, 30)
    pal.info["transparency"] = 1
    assert _rgb_of(pal, "PNG", transparency=1) == (255, 255, 255)  # transparent -> white
    assert _rgb_of(Image.new("LA", (8, 8), (0, 0)), "PNG") == (255, 255, 255)
    assert _rgb_of(Image.new("RGBA", (8, 8), (255, 0, 0, 255)), "PNG") == (255, 0, 0)
    assert _rgb_of(Image.new("1", (8, 8), 1), "PNG") == (255, 255, 255)
    f = Image.fromarray(np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8))
    assert images.decode(_encode(f, "TIFF")).image.getpixel((7, 7)) == (255, 255, 255)


def test_class_colours_are_a_fixed_palette() -> None:
    assert colors.class_hex(0) == "#1f77b4" and colors.class_color(1) == (255, 127, 14)
    assert colors.class_hex(20) == colors.class_hex(0) and colors.class_hex(None) == colors.UNKNOWN_HEX
    assert len(set(colors.PALETTE_HEX)) == 20
    assert colors.parse_hex("#abc") == (170, 187, 204)
    with pytest.raises(ValueError):
        colors.parse_hex("#12345")
    assert colors.text_color_on((255, 255, 255)) == (0, 0, 0)


def test_draw_boxes_at_scale_in_class_colours() -> None:
    base = Image.new("RGB", (200, 100), (255, 255, 255))
    boxes = [Box(0, "cat", 40, 20, 100, 60, 0.9), Box(2, "", math.nan, 1, 1, 1), Box(1, "dog", 300, 100, 50, 50)]
    out = drawing.draw_boxes(base, boxes, scale=0.5, labels=False)
    assert base.getpixel((20, 25)) == (255, 255, 255)  # the input is not modified
    assert out.getpixel((20, 25)) == colors.class_color(0)  # left edge at 40 * 0.5
    assert out.getpixel((45, 25)) == (255, 255, 255)  # inside stays clear
    assert out.getpixel((151, 60)) == colors.class_color(1)  # left edge of the dog box at 300 * 0.5
    labelled = drawing.draw_boxes(base, [Box(0, "cat", 40, 80, 100, 60)], scale=0.5)
    assert labelled.getpixel((22, 38)) == colors.class_color(0)  # the label tag just above the box (top 40)


def test_caption_placeholder_and_legend() -> None:
    base = Image.new("RGB", (160, 120), (255, 255, 255))
    cap = drawing.draw_caption(base, "unripe banana 0.95", colors.class_color(1))
    assert cap.getpixel((150, 118)) == colors.class_color(1)
    ph = drawing.placeholder((240, 180), "UriNotAllowed: s3://b/x.jpg is not in GT_ALLOWED_BUCKETS")
    assert ph.size == (240, 180)
    assert len(set(ph.getdata())) > 3  # text was drawn
    legend = drawing.legend_image([("0: cat", (31, 119, 180)), ("1: <b>dog</b>", (255, 127, 14))])
    assert legend.size[1] >= 44 and legend.getpixel((10, 2 + 22 + 10)) == (255, 127, 14)


def test_mask_overlay_with_the_real_palette_png() -> None:
    root = realdata_or_skip()
    mask = images.decode_mask((root / "semseg-pcb" / "mask.png").read_bytes())
    assert mask.mode == "P" and mask.size == (1696, 959)
    idx = np.asarray(mask)
    ys, xs = np.nonzero(idx == 1)
    y, x = int(ys[len(ys) // 2]), int(xs[len(xs) // 2])
    base = Image.new("RGB", mask.size, (0, 0, 0))
    cmap = {0: (255, 255, 255), 1: (44, 160, 44), 2: (31, 119, 180), 3: (255, 127, 14)}
    out = drawing.overlay_mask(base, mask, cmap, alpha=0.5)
    assert out.getpixel((x, y)) == (22, 80, 22)  # half of #2ca02c over black
    by, bx = map(int, np.argwhere(idx == 0)[0])
    assert out.getpixel((bx, by)) == (0, 0, 0)  # the background class is not painted
    small = drawing.overlay_mask(Image.new("RGB", (424, 240)), mask, cmap)
    assert small.size == (424, 240)
    rgb_mask = mask.convert("RGB")
    assert drawing.overlay_mask(base, rgb_mask, cmap, alpha=1.0).getpixel((x, y)) == (44, 160, 44)


def test_decode_mask_refuses_non_images(tmp_path: Path) -> None:
    with pytest.raises(ImageError):
        images.decode_mask(b"not a png")
