"""The earlier labels of an adjustment or verification task, for the labeling screen.

    previous_classes(ctx, actor, task, labels) -> np.ndarray | None     # semseg: the earlier mask, original size,
                                                                         # as class indices of ``labels``
    with_mask(jpeg, classes, colors) -> bytes                            # the display JPEG with a mask blended in
    labeled_jpeg(ctx, actor, task, img) -> (bytes, summary)              # verification: the display JPEG with the
                                                                         # earlier boxes or mask drawn (read-only)

Masks are read through ``ctx.storage`` (the URI rules hold), at most ``MAX_MASK_BYTES``, decoded with the
100-megapixel limit (``gtcore.output.mask_png``), and cached per process by URI. Access as for the task image
(``task_images.check_view``).
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Any

import numpy as np
from PIL import Image

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.colors import class_color, parse_hex
from gtcore.core.errors import GTError
from gtcore.images import drawing
from gtcore.images.task_images import JPEG_QUALITY, DisplayImage, TaskLike, check_view
from gtcore.output.mask_png import decode_index_png
from gtcore.output.records_segmentation import source_mask

MAX_MASK_BYTES = 64 * 1024 * 1024
_CACHE: OrderedDict[tuple[str, str], tuple[np.ndarray, list[str]]] = OrderedDict()
_CACHE_SIZE = 8


def _read_png(ctx: Context, uri: str) -> bytes:
    return ctx.storage.read_bytes(ctx.storage.normalize(uri), max_bytes=MAX_MASK_BYTES)


def previous_classes(ctx: Context, actor: Actor, task: Any, labels: list[str]) -> np.ndarray | None:
    """The earlier mask of a semantic-segmentation adjustment task as class indices of ``labels``."""
    prev = getattr(task, "previous", None) or {}
    uri = prev.get("maskUri")
    if not isinstance(uri, str):
        return None
    check_view(ctx, actor, task)
    key = (uri, "|".join(labels))
    hit = _CACHE.get(key)
    if hit is None:
        classes = source_mask(_read_png(ctx, uri), prev.get("metadata") or {}, labels)
        hit = (classes, [])
        _CACHE[key] = hit
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return hit[0]


def with_mask(jpeg: bytes, classes: np.ndarray, colors: list[str], alpha: float = 0.45) -> bytes:
    """The display JPEG with ``classes`` (any size; resized nearest) blended in, BACKGROUND left clear."""
    base = Image.open(io.BytesIO(jpeg)).convert("RGB")
    mask = Image.fromarray(classes, "L")
    out = drawing.overlay_mask(base, mask, {i: parse_hex(c) for i, c in enumerate(colors)}, alpha=alpha)
    buf = io.BytesIO()
    out.save(buf, format="JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


class _Box:
    def __init__(self, b: dict, class_id: int) -> None:
        self.class_id, self.class_name = class_id, str(b.get("label", ""))
        self.left, self.top = float(b.get("left") or 0), float(b.get("top") or 0)
        self.width, self.height = float(b.get("width") or 0), float(b.get("height") or 0)


def _part(indices: np.ndarray, rect: tuple[float, float, float, float], size: tuple[int, int]) -> np.ndarray:
    """The part ``rect`` (original pixels) of a class-index mask, resized (nearest) to ``size``."""
    x, y, w, h = rect
    return np.asarray(Image.fromarray(indices, "L").resize(size, Image.Resampling.NEAREST, box=(x, y, x + w, y + h)))


def labeled_jpeg(
    ctx: Context, actor: Actor, task: TaskLike, img: DisplayImage, rect: tuple[float, float, float, float] | None = None
) -> tuple[bytes, str]:
    """The display image with the labels being verified drawn on it, and a one-line summary of them.

    ``rect``: the part (x, y, w, h) of the original ``img`` shows (a zoomed view), else the whole image."""
    assert img.jpeg is not None
    prev = getattr(task, "previous", None) or {}
    check_view(ctx, actor, task)
    x0, y0 = (rect[0], rect[1]) if rect is not None else (0.0, 0.0)
    if "boundingBoxes" in prev:
        boxes = [b for b in prev.get("boundingBoxes") or [] if isinstance(b, dict)]
        names = sorted({str(b.get("label")) for b in boxes})
        shown = []
        for b in boxes:
            box = _Box(b, names.index(str(b.get("label"))))
            box.left, box.top = box.left - x0, box.top - y0
            shown.append(box)
        drawn = drawing.draw_boxes(Image.open(io.BytesIO(img.jpeg)), shown, scale=img.scale)
        buf = io.BytesIO()
        drawn.save(buf, format="JPEG", quality=JPEG_QUALITY)
        return buf.getvalue(), f"{len(boxes)} box(es): {', '.join(names) or 'none'}"
    uri = prev.get("maskUri")
    if isinstance(uri, str):
        try:
            indices, palette = decode_index_png(_read_png(ctx, uri))
        except GTError as exc:
            return img.jpeg, f"the mask cannot be shown: {exc}"
        cmap = (prev.get("metadata") or {}).get("internal-color-map") or {}
        colors = list(palette)
        names = []
        for k, entry in cmap.items():
            hexc = entry.get("hex-color") if isinstance(entry, dict) else None
            if isinstance(hexc, str) and str(k).isdigit() and int(k) < 256:
                colors[int(k)] = entry["hex-color"]
                if int(k) > 0 and (indices == int(k)).any():
                    names.append(str(entry.get("class-name")))
        if rect is not None:
            indices = _part(indices, rect, Image.open(io.BytesIO(img.jpeg)).size)
        return with_mask(img.jpeg, indices, colors, alpha=0.5), f"mask classes present: {', '.join(names) or 'none'}"
    return img.jpeg, "this object has no earlier label to verify"


def legend(names: list[str]) -> list[tuple[str, str]]:
    """(name, hex) pairs of box classes as ``labeled_jpeg`` colours them."""
    return [(n, "#{:02x}{:02x}{:02x}".format(*class_color(i))) for i, n in enumerate(sorted(names))]
