"""Zoom and pan geometry of the labeling canvas: which part of the original a view shows, at which scale.

Pure arithmetic, no pixels (``gtcore.images.task_views`` renders what this plans)::

    levels = zoom_levels(original=(7168, 4562), box=(900, 640))     # [ZoomLevel("Fit", 0.1256), ("2x", ...), ...]
    view = plan_view((7168, 4562), ViewSpec(box=(900, 640), level="4x", center=(0.5, 0.5)))
    view.rect        # (x, y, w, h) of the original shown, in original pixels (after EXIF orientation)
    view.size        # (width, height) of the canvas and of the JPEG sent for it: the pixels shown, no more
    view.scale       # canvas pixels per original pixel (the same on both axes)

- *Levels*: "Fit" (the whole image inside ``box``; a small image, such as a 64 px digit, is enlarged by a whole
  factor, ``upscale_factor``, to a useful size: its pixels shown as squares), 1.5x 2x 3x 4x 6x 8x 12x 16x of Fit, "1:1"
  (one canvas pixel per original pixel) and "2:1", ascending; relative levels stop below 1:1, and one within
  10 % of 1:1 gives way to it, so "1:1" is always there (unless Fit is already at or above it).
- *Views*: at Fit the canvas is the image's fitted size; zoomed in it takes the whole ``box`` (or less when the
  zoomed image is smaller). ``center`` (fractions of the original's width and height) is clamped so the view
  stays inside the image. The rectangle is exact (floats): canvas pixel ``p`` shows original ``x + p / scale``.
- ``pan`` moves the centre by fractions of the view; ``center_at`` jumps (the overview's clicks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FIT = "Fit"
NATIVE = "1:1"
RELATIVE_STEPS: tuple[float, ...] = (1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
ABSOLUTE: tuple[tuple[str, float], ...] = ((NATIVE, 1.0), ("2:1", 2.0))
MAX_SCALE = 2.0
_NEAR_NATIVE = 1.1
MIN_BOX = (160, 120)


@dataclass(frozen=True)
class ZoomLevel:
    name: str
    scale: float  # canvas pixels per original pixel


@dataclass(frozen=True)
class ViewSpec:
    """What the worker asked for: the room on the page, a zoom level by name, the centre of the view."""

    box: tuple[int, int]  # (width, height) the canvas may take, CSS pixels
    level: str = FIT
    center: tuple[float, float] = (0.5, 0.5)  # fractions of the original's width and height


@dataclass(frozen=True)
class View:
    original: tuple[int, int]
    level: ZoomLevel
    scale: float  # canvas px per original px (== size / rect extent, exactly, on both axes)
    rect: tuple[float, float, float, float]  # (x, y, w, h) in original pixels
    size: tuple[int, int]  # canvas = JPEG size

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.rect
        return (x + w / 2) / self.original[0], (y + h / 2) / self.original[1]

    @property
    def zoomed(self) -> bool:
        return self.level.name != FIT


SMALL_SIDE = 320  # a small image is enlarged by a whole factor until its longest side reaches about this
MAX_UPSCALE = 8


def upscale_factor(size: tuple[int, int]) -> int:
    """The whole factor a small image of ``size`` is shown enlarged by (1: it is large enough as it is)."""
    side = max(size)
    return max(1, min(MAX_UPSCALE, SMALL_SIDE // side)) if side > 0 else 1


def clamp_box(box: tuple[int, int]) -> tuple[int, int]:
    return max(MIN_BOX[0], int(box[0])), max(MIN_BOX[1], int(box[1]))


def fit_scale(original: tuple[int, int], box: tuple[int, int]) -> float:
    bw, bh = clamp_box(box)
    return min(float(upscale_factor(original)), bw / original[0], bh / original[1])


def zoom_levels(original: tuple[int, int], box: tuple[int, int]) -> list[ZoomLevel]:
    """The zoom ladder of an image in ``box``, ascending by scale (Fit first)."""
    fit = fit_scale(original, box)
    levels = [ZoomLevel(FIT, fit)]
    for step in RELATIVE_STEPS:
        scale = fit * step
        if scale * _NEAR_NATIVE > 1.0:
            break
        levels.append(ZoomLevel(f"{step:g}x", scale))
    for name, scale in ABSOLUTE:
        if scale > fit * 1.001:
            levels.append(ZoomLevel(name, scale))
    return levels


def find_level(levels: list[ZoomLevel], name: str) -> ZoomLevel:
    """The level called ``name``, else the nearest one by how much it zooms Fit (names carry over images)."""
    for lv in levels:
        if lv.name == name:
            return lv
    want = _relative(name)
    fit = levels[0].scale
    if want is None:
        return levels[0]
    return min(levels, key=lambda lv: abs(math.log(lv.scale / fit) - math.log(want)))


def _relative(name: str) -> float | None:
    if name == FIT:
        return 1.0
    if name.endswith("x"):
        try:
            return float(name[:-1])
        except ValueError:
            return None
    return None


def step_level(levels: list[ZoomLevel], name: str, step: int) -> str:
    """The name of the level ``step`` places up (+) or down (-) the ladder from ``name``, clamped at the ends."""
    current = find_level(levels, name)
    i = levels.index(current)
    return levels[min(max(i + step, 0), len(levels) - 1)].name


def plan_view(original: tuple[int, int], spec: ViewSpec) -> View:
    """Where the view of ``spec`` falls on an image of size ``original`` (see the module docstring)."""
    ow, oh = original
    if ow <= 0 or oh <= 0:
        raise ValueError(f"the image size must be positive, got {original!r}")
    bw, bh = clamp_box(spec.box)
    level = find_level(zoom_levels(original, (bw, bh)), spec.level)
    s = level.scale
    if level.name == FIT:
        size = (max(1, round(ow * s)), max(1, round(oh * s)))
        return View(original, level, s, (0.0, 0.0, float(ow), float(oh)), size)
    size = (max(1, min(bw, math.floor(ow * s))), max(1, min(bh, math.floor(oh * s))))
    vw, vh = size[0] / s, size[1] / s
    cx = min(max(spec.center[0] * ow, vw / 2), ow - vw / 2)
    cy = min(max(spec.center[1] * oh, vh / 2), oh - vh / 2)
    return View(original, level, s, (cx - vw / 2, cy - vh / 2, vw, vh), size)


def pan(view: View, dx: float, dy: float) -> tuple[float, float]:
    """The centre after moving by (dx, dy) view widths/heights (e.g. 0.5 = half a view to the right/down)."""
    x, y, w, h = view.rect
    ow, oh = view.original
    return (
        min(max((x + w / 2 + dx * w) / ow, 0.0), 1.0),
        min(max((y + h / 2 + dy * h) / oh, 0.0), 1.0),
    )


def center_at(fx: float, fy: float) -> tuple[float, float]:
    """A centre from a click on the overview (fractions), clamped to the image."""
    return min(max(float(fx), 0.0), 1.0), min(max(float(fy), 0.0), 1.0)
