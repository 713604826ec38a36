"""The canvas's pixel spaces and the checks on what it is given (pure: no Streamlit). See ``gtcore.ui.canvas``.

- *original*: the source image after EXIF orientation. Callers pass and receive boxes in it.
- *display*: the JPEG sent to the browser: the view ``(x, y, w, h)`` of the original (the whole image when
  there is no zoom), resampled to ``display`` pixels: ``display = (original - (x, y)) * (sx, sy)`` with
  ``sx = display_w / w`` (per axis, so rounding of the display size does not skew the far edge).
- *canvas*: the drawing surface. It is the display size unless ``max_display`` shrinks it; the JPEG is fitted
  into it with ``background_image_fit="contain"`` (uniform scale ``c``, centred offset).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gtcore.core.errors import ImageError, Problem, ValidationError

DECIMALS = 2
_SCALE_TOLERANCE_PX = 2.0
_EXACT = 1e-6
_UNTOUCHED_PX = 0.02  # a box within this of where it was drawn (canvas px) was not moved


@dataclass(frozen=True)
class CanvasGeometry:
    """Sizes of the three pixel spaces and the conversions between them."""

    original: tuple[int, int]
    display: tuple[int, int]
    canvas: tuple[int, int]
    view: tuple[float, float, float, float] | None = None  # (x, y, w, h) of the original shown; None: all

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return self.view if self.view is not None else (0.0, 0.0, float(self.original[0]), float(self.original[1]))

    @property
    def sx(self) -> float:
        return self.display[0] / self.rect[2]

    @property
    def sy(self) -> float:
        return self.display[1] / self.rect[3]

    def shows(self, box: dict[str, Any]) -> bool:
        """Whether any part of ``box`` (original pixels) lies in the view (a box of zero size on its edge counts)."""
        x, y, w, h = self.rect
        left, top = float(box["left"]), float(box["top"])
        return left <= x + w and left + float(box["width"]) >= x and top <= y + h and top + float(box["height"]) >= y

    @property
    def fit(self) -> tuple[float, float, float]:
        """(scale, offset_x, offset_y) of the display JPEG inside the canvas, as the frontend's "contain"."""
        (cw, ch), (dw, dh) = self.canvas, self.display
        c = min(cw / dw, ch / dh)
        return c, (cw - dw * c) / 2, (ch - dh * c) / 2

    def to_canvas(self, box: dict[str, Any]) -> dict[str, Any]:
        """A box in original pixels -> canvas pixels."""
        c, ox, oy = self.fit
        vx, vy = self.rect[:2]
        return {
            "label": str(box["label"]),
            "left": (float(box["left"]) - vx) * self.sx * c + ox,
            "top": (float(box["top"]) - vy) * self.sy * c + oy,
            "width": float(box["width"]) * self.sx * c,
            "height": float(box["height"]) * self.sy * c,
        }

    def from_image_space(self, box: dict[str, Any]) -> dict[str, Any] | None:
        """A box in display-JPEG pixels -> original pixels, clipped to the image, rounded; None if empty."""
        w, h = self.original
        vx, vy = self.rect[:2]
        x0 = min(max(vx + box["left"] / self.sx, 0.0), w)
        y0 = min(max(vy + box["top"] / self.sy, 0.0), h)
        x1 = min(max(vx + (box["left"] + box["width"]) / self.sx, 0.0), w)
        y1 = min(max(vy + (box["top"] + box["height"]) / self.sy, 0.0), h)
        if x1 - x0 <= 0 or y1 - y0 <= 0:
            return None
        return {
            "label": str(box.get("label", "")),
            "left": round(x0, DECIMALS),
            "top": round(y0, DECIMALS),
            "width": round(x1 - x0, DECIMALS),
            "height": round(y1 - y0, DECIMALS),
        }


def jpeg_size(image_jpeg: bytes) -> tuple[int, int]:
    """Pixel size of an encoded image (header only). Refuses an EXIF rotation the browser would apply."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image_jpeg)) as img:
            size = img.size
            orientation = img.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError(f"the display image for the canvas cannot be decoded: {exc}") from exc
    if orientation not in (None, 1):
        raise ImageError(
            f"the display image carries EXIF orientation {orientation}; the browser would rotate it and "
            "the boxes would not line up. Send an image with the orientation applied (gtcore.images.decoding does)."
        )
    return size


def canvas_size(display: tuple[int, int], max_display: tuple[int, int] | None) -> tuple[int, int]:
    """The display size, shrunk (never enlarged, aspect kept) to fit inside ``max_display``."""
    if max_display is None:
        return display
    f = min(1.0, max_display[0] / display[0], max_display[1] / display[1])
    return max(1, round(display[0] * f)), max(1, round(display[1] * f))


def plan_geometry(
    image_jpeg: bytes,
    *,
    display_scale: float,
    original_size: tuple[int, int],
    max_display: tuple[int, int] | None = None,
    view: tuple[float, float, float, float] | None = None,
) -> CanvasGeometry:
    """Check the sizes agree and return the geometry of one canvas (``view``: the part of the original shown)."""
    problems: list[Problem] = []
    ow, oh = original_size
    if ow <= 0 or oh <= 0:
        problems.append(Problem(f"must be positive, got {original_size!r}", field="original_size"))
    if not (display_scale > 0 and math.isfinite(display_scale)):
        problems.append(Problem(f"must be a positive number, got {display_scale!r}", field="display_scale"))
    if max_display is not None and (max_display[0] <= 0 or max_display[1] <= 0):
        problems.append(Problem(f"must be positive, got {max_display!r}", field="max_display"))
    if view is not None:
        vx, vy, vw, vh = view
        if not (vw > 0 and vh > 0 and vx >= -_EXACT and vy >= -_EXACT):
            problems.append(Problem(f"must be a positive area inside the image, got {view!r}", field="view"))
        elif vx + vw > ow * (1 + _EXACT) + _EXACT or vy + vh > oh * (1 + _EXACT) + _EXACT:
            problems.append(Problem(f"reaches beyond the {ow}x{oh} image: {view!r}", field="view"))
    if problems:
        raise ValidationError(problems, "the canvas cannot be set up")
    display = jpeg_size(image_jpeg)
    extent = (view[2], view[3]) if view is not None else (ow, oh)
    expected = (extent[0] * display_scale, extent[1] * display_scale)
    if any(abs(d - e) > _SCALE_TOLERANCE_PX for d, e in zip(display, expected, strict=True)):
        what = f"original_size {ow}x{oh}"
        if view is not None:
            what = f"the view {extent[0]:.0f}x{extent[1]:.0f} of {what}"
        raise ImageError(
            f"the display image is {display[0]}x{display[1]} px but {what} at "
            f"display_scale {display_scale:g} gives {expected[0]:.0f}x{expected[1]:.0f} px"
        )
    return CanvasGeometry(original=(ow, oh), display=display, canvas=canvas_size(display, max_display), view=view)


def validate_boxes(boxes: Iterable[Any], where: str = "boxes") -> list[dict[str, Any]]:
    """Check every box has a text label and finite numbers, width/height >= 0; report all problems."""
    problems: list[Problem] = []
    out: list[dict[str, Any]] = []
    for i, box in enumerate(boxes):
        if not isinstance(box, dict):
            problems.append(Problem(f"must be an object, got {type(box).__name__}", field=f"{where}[{i}]"))
            continue
        if not isinstance(box.get("label"), str):
            problems.append(Problem("must be a text label", field=f"{where}[{i}].label"))
        for name in ("left", "top", "width", "height"):
            v = box.get(name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                problems.append(Problem(f"must be a number, got {v!r}", field=f"{where}[{i}].{name}"))
            elif name in ("width", "height") and v < 0:
                problems.append(Problem(f"must not be negative, got {v!r}", field=f"{where}[{i}].{name}"))
        out.append(box)
    if problems:
        raise ValidationError(problems, "the boxes given to the canvas are not valid")
    return out


def same_boxes(a: list[dict[str, Any]] | None, b: list[dict[str, Any]] | None) -> bool:
    """Equal as multisets, coordinates compared to within half a unit of the last kept decimal."""
    if a is None or b is None or len(a) != len(b):
        return False

    def norm(boxes: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        keys = ("left", "top", "width", "height")
        return sorted((str(x["label"]), *(float(x[k]) for k in keys)) for x in boxes)

    tol = 0.5 * 10**-DECIMALS + 1e-9
    return all(
        p[0] == q[0] and all(abs(u - v) <= tol for u, v in zip(p[1:], q[1:], strict=True))
        for p, q in zip(norm(a), norm(b), strict=True)
    )


def keep_exact(
    returned: list[dict[str, Any]], shown: list[dict[str, Any]], geom: CanvasGeometry
) -> list[dict[str, Any]]:
    """``returned`` (canvas pixels, from the browser) in original pixels, each box the worker did not touch
    given back exactly as it was ``shown`` (so boxes partly outside the view keep their hidden part)."""
    pending = [(geom.to_canvas(box), box) for box in shown]
    out: list[dict[str, Any]] = []
    for raw in returned:
        i = next((i for i, (c, _) in enumerate(pending) if _untouched(raw, c)), None)
        if i is not None:
            out.append(dict(pending.pop(i)[1]))
            continue
        box = geom.from_image_space(_image_space(raw, geom))
        if box is not None:
            out.append(box)
    return out


def _untouched(raw: dict[str, Any], shown: dict[str, Any]) -> bool:
    return str(raw.get("label", "")) == shown["label"] and all(
        abs(float(raw[k]) - float(shown[k])) <= _UNTOUCHED_PX for k in ("left", "top", "width", "height")
    )


def _image_space(box: dict[str, Any], geom: CanvasGeometry) -> dict[str, Any]:
    """Canvas pixels -> display-JPEG pixels (the inverse of the "contain" fit)."""
    c, ox, oy = geom.fit
    return {
        "label": box.get("label", ""),
        "left": (box["left"] - ox) / c,
        "top": (box["top"] - oy) / c,
        "width": box["width"] / c,
        "height": box["height"] / c,
    }
