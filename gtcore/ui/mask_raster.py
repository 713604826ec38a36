"""The mask canvas's vectors -> class-index pixels of the ORIGINAL image (pure: no Streamlit).

``gtcore.ui.mask_canvas`` gets every brush stroke and polygon back as a Fabric.js object in canvas pixels;
``rasterize`` replays them in order onto a class-index mask of the original size:

- a stroke's colour says its class (the label colours of ``gtcore.core.colors.semseg_colors``; the eraser
  paints BACKGROUND, #ffffff); its width is scaled from canvas to original pixels; round caps and joins;
- a polygon is filled with its class;
- canvas -> original: ``x0 + (x - offset_x) / scale_x / sx`` with the background fit the browser reported,
  ``(x0, y0, w, h)`` the part of the original the canvas shows (``rect``: the view when zoomed, else the whole
  image) and ``sx = display_w / w``; object transforms (a moved or scaled object) are applied as Fabric does
  (origin, scale, angle, ``pathOffset``).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from gtcore.core.colors import parse_hex

_RGBA = re.compile(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)")
_CURVE_STEPS = 8
Rect = tuple[float, float, float, float]


def _whole(size: tuple[int, int]) -> Rect:
    return 0.0, 0.0, float(size[0]), float(size[1])


def _factors(fit: dict[str, float], display: tuple[int, int], rect: Rect) -> tuple[float, float]:
    """Original pixels per canvas pixel, on each axis."""
    return rect[2] / (float(fit["scale_x"]) * display[0]), rect[3] / (float(fit["scale_y"]) * display[1])


def class_of(color: Any, colors: list[str]) -> int | None:
    if not isinstance(color, str):
        return None
    m = _RGBA.match(color.strip())
    try:
        rgb = tuple(int(v) for v in m.groups()) if m else parse_hex(color)
    except ValueError:
        return None
    table = [parse_hex(c) for c in colors]
    return table.index(rgb) if rgb in table else None


def _path_points(path: list[Any]) -> list[tuple[float, float]]:
    pts: list[tuple[float, float]] = []
    for cmd in path:
        if not isinstance(cmd, list) or not cmd:
            continue
        op, args = str(cmd[0]).upper(), [float(v) for v in cmd[1:]]
        if op in ("M", "L") and len(args) >= 2:
            pts.append((args[0], args[1]))
        elif op == "Q" and len(args) >= 4 and pts:
            (x0, y0), (cx, cy), (x1, y1) = pts[-1], (args[0], args[1]), (args[2], args[3])
            for k in range(1, _CURVE_STEPS + 1):
                t = k / _CURVE_STEPS
                u = 1 - t
                pts.append((u * u * x0 + 2 * u * t * cx + t * t * x1, u * u * y0 + 2 * u * t * cy + t * t * y1))
        elif op == "C" and len(args) >= 6 and pts:
            (x0, y0) = pts[-1]
            c1, c2, e = (args[0], args[1]), (args[2], args[3]), (args[4], args[5])
            for k in range(1, _CURVE_STEPS + 1):
                t = k / _CURVE_STEPS
                u = 1 - t
                pts.append(
                    (
                        u**3 * x0 + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t**3 * e[0],
                        u**3 * y0 + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t**3 * e[1],
                    )
                )
    return pts


def _to_canvas(obj: dict[str, Any], pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Object-space points -> canvas pixels, as Fabric places an object (origin, scale, angle, pathOffset)."""
    if not pts:
        return pts
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    w = float(obj.get("width") or (max(xs) - min(xs)))
    h = float(obj.get("height") or (max(ys) - min(ys)))
    po = obj.get("pathOffset")
    if isinstance(po, dict) and "x" in po:
        pox, poy = float(po["x"]), float(po["y"])
    else:
        pox, poy = min(xs) + w / 2, min(ys) + h / 2
    sx, sy = float(obj.get("scaleX", 1) or 1), float(obj.get("scaleY", 1) or 1)
    sw = float(obj.get("strokeWidth", 0) or 0)
    dw, dh = ((w * sx + sw), (h * sy + sw)) if obj.get("strokeUniform") else ((w + sw) * sx, (h + sw) * sy)
    ox = {"left": 0.0, "center": 0.5, "right": 1.0}.get(str(obj.get("originX", "left")), 0.0)
    oy = {"top": 0.0, "center": 0.5, "bottom": 1.0}.get(str(obj.get("originY", "top")), 0.0)
    a = math.radians(float(obj.get("angle", 0) or 0))
    cos, sin = math.cos(a), math.sin(a)
    ddx, ddy = (0.5 - ox) * dw, (0.5 - oy) * dh
    cx = float(obj.get("left", 0) or 0) + cos * ddx - sin * ddy
    cy = float(obj.get("top", 0) or 0) + sin * ddx + cos * ddy
    out = []
    for x, y in pts:
        px, py = (x - pox) * sx, (y - poy) * sy
        out.append((cx + cos * px - sin * py, cy + sin * px + cos * py))
    return out


def rasterize(
    objects: list[dict[str, Any]],
    *,
    size: tuple[int, int],
    fit: dict[str, float],
    display: tuple[int, int],
    colors: list[str],
    base: np.ndarray | None = None,
    rect: Rect | None = None,
) -> np.ndarray:
    """Replay canvas ``objects`` onto a class-index mask of ``size`` (original w, h); see the module doc.

    ``base`` (not changed) is the mask painted over; ``rect`` the part of the original the canvas shows."""
    w, h = size
    img = Image.fromarray(base.copy(), "L") if base is not None else Image.new("L", (w, h), 0)
    if not objects:
        return np.asarray(img, dtype=np.uint8)
    draw = ImageDraw.Draw(img)
    x0, y0, _, _ = rect = rect or _whole(size)
    kx, ky = _factors(fit, display, rect)
    offx, offy = float(fit["offset_x"]), float(fit["offset_y"])

    def orig(p: tuple[float, float]) -> tuple[float, float]:  # canvas px -> original px (PIL pixel centres)
        return x0 + (p[0] - offx) * kx - 0.5, y0 + (p[1] - offy) * ky - 0.5

    for obj in objects:
        kind = str(obj.get("type", "")).lower()
        if kind == "path":
            cls = class_of(obj.get("stroke"), colors)
            pts = [orig(p) for p in _to_canvas(obj, _path_points(obj.get("path") or []))]
            if cls is None or not pts:
                continue
            scale = float(obj.get("scaleX", 1) or 1)
            width = max(1.0, float(obj.get("strokeWidth", 1) or 1) * scale * kx)
            r = width / 2
            if len(pts) > 1:
                draw.line(pts, fill=cls, width=max(1, round(width)), joint="curve")
            for x, y in (pts[0], pts[-1]) if len(pts) > 1 else (pts[0],):
                draw.ellipse((x - r + 0.5, y - r + 0.5, x + r - 0.5, y + r - 0.5), fill=cls)
        elif kind == "polygon":
            cls = class_of(obj.get("fill"), colors)
            raw = [(float(p["x"]), float(p["y"])) for p in obj.get("points") or [] if isinstance(p, dict)]
            pts = [orig(p) for p in _to_canvas(obj, raw)]
            if cls is not None and len(pts) >= 3:
                draw.polygon(pts, fill=cls)
    return np.asarray(img, dtype=np.uint8)


def clicks(
    objects: list[dict[str, Any]],
    *,
    fit: dict[str, float],
    display: tuple[int, int],
    size: tuple[int, int],
    rect: Rect | None = None,
) -> tuple[tuple[float, float], ...]:
    """The point-mode clicks (Fabric circles: ``left`` = x - radius - stroke / 2, ``top`` = y) in original pixels."""
    w, h = size
    x0, y0, _, _ = rect = rect or _whole(size)
    kx, ky = _factors(fit, display, rect)
    out = []
    for obj in objects:
        if str(obj.get("type", "")).lower() != "circle":
            continue
        x = (
            float(obj.get("left", 0) or 0)
            + float(obj.get("radius", 0) or 0)
            + float(obj.get("strokeWidth", 0) or 0) / 2
        )
        y = float(obj.get("top", 0) or 0)
        ox, oy = x0 + (x - float(fit["offset_x"])) * kx, y0 + (y - float(fit["offset_y"])) * ky
        out.append((min(max(ox, 0.0), float(w)), min(max(oy, 0.0), float(h))))
    return tuple(out)
