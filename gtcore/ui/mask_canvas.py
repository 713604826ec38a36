"""The semantic-segmentation canvas: brush, eraser and polygon fill over the display JPEG; the mask is built
in original-image pixels on the server.

The browser only draws vectors (streamlit-drawable-canvas's ``freedraw`` and ``polygon`` modes, with its
toolbar's undo, redo and reset). Each stroke and polygon comes back as a Fabric.js object in canvas pixels;
``rasterize`` replays them in order onto a class-index mask of the ORIGINAL size, so the mask has the
resolution of the image whatever the display size:

- a stroke's colour says its class (the label colours of ``gtcore.core.colors.semseg_colors``; the eraser
  paints BACKGROUND, #ffffff); its width is scaled from canvas to original pixels; round caps and joins;
- a polygon is filled with its class;
- canvas -> original: ``(x - offset_x) / scale_x / sx`` with the background fit the browser reported and
  ``sx = display_w / original_w`` (as for boxes in ``gtcore.ui.canvas``); object transforms (a moved or scaled
  object) are applied as Fabric does (origin, scale, angle, ``pathOffset``).

A ``base`` mask (the worker's draft, or the earlier mask of an adjustment task) is the starting point: it is
blended into the background image and the strokes are painted over it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw

from gtcore.core.colors import parse_hex, semseg_colors
from gtcore.images.task_overlays import with_mask
from gtcore.ui.canvas import background_url, plan_geometry

AUTO = "Auto-segment"
TOOLS = ("Brush", "Eraser", "Polygon", AUTO)
POINT_RADIUS = 4
ALPHA = 0.55
_STATE_PREFIX = "_gt_mask::"
_RGBA = re.compile(r"rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)")
_CURVE_STEPS = 8


@dataclass(frozen=True)
class MaskResult:
    classes: np.ndarray  # H x W uint8 class indices, original size
    objects: int  # strokes and polygons on the canvas
    changed: bool  # the mask differs from the base it started from
    points: tuple[tuple[float, float], ...] = ()  # auto-segment clicks, original pixels, in click order


def rgba(hex_color: str, alpha: float = ALPHA) -> str:
    r, g, b = parse_hex(hex_color)
    return f"rgba({r}, {g}, {b}, {alpha})"


def _class_of(color: Any, colors: list[str]) -> int | None:
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
) -> np.ndarray:
    """Replay canvas ``objects`` onto a class-index mask of ``size`` (original w, h); see the module doc."""
    w, h = size
    img = Image.fromarray(base.copy(), "L") if base is not None else Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    kx = 1.0 / (float(fit["scale_x"]) * display[0] / w)
    ky = 1.0 / (float(fit["scale_y"]) * display[1] / h)
    offx, offy = float(fit["offset_x"]), float(fit["offset_y"])

    def orig(p: tuple[float, float]) -> tuple[float, float]:  # canvas px -> original px (PIL pixel centres)
        return (p[0] - offx) * kx - 0.5, (p[1] - offy) * ky - 0.5

    for obj in objects:
        kind = str(obj.get("type", "")).lower()
        if kind == "path":
            cls = _class_of(obj.get("stroke"), colors)
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
            cls = _class_of(obj.get("fill"), colors)
            raw = [(float(p["x"]), float(p["y"])) for p in obj.get("points") or [] if isinstance(p, dict)]
            pts = [orig(p) for p in _to_canvas(obj, raw)]
            if cls is not None and len(pts) >= 3:
                draw.polygon(pts, fill=cls)
    return np.asarray(img, dtype=np.uint8)


def _clicks(
    objects: list[dict[str, Any]], *, fit: dict[str, float], display: tuple[int, int], size: tuple[int, int]
) -> tuple[tuple[float, float], ...]:
    """The point-mode clicks (Fabric circles: ``left`` = x - radius - stroke / 2, ``top`` = y) in original pixels."""
    w, h = size
    kx = 1.0 / (float(fit["scale_x"]) * display[0] / w)
    ky = 1.0 / (float(fit["scale_y"]) * display[1] / h)
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
        ox, oy = (x - float(fit["offset_x"])) * kx, (y - float(fit["offset_y"])) * ky
        out.append((min(max(ox, 0.0), float(w)), min(max(oy, 0.0), float(h))))
    return tuple(out)


def mask_canvas(
    image_jpeg: bytes,
    *,
    display_scale: float,
    original_size: tuple[int, int],
    labels: list[str],
    current_label: str,
    tool: str,
    brush_px: int,
    base: np.ndarray | None,
    key: str,
    reset: int = 0,
) -> MaskResult | None:
    """Show the painting canvas; return the mask on it (original pixels), or None until the browser reported.

    ``brush_px`` is the brush (and eraser) diameter in screen pixels; ``base`` the mask to start from (its
    identity must not change between reruns of the same task, or the canvas starts again from it); a new ``reset``
    starts the canvas again from ``base`` even when its pixels did not change (strokes and clicks cleared).
    """
    from streamlit_drawable_canvas import st_canvas

    geom = plan_geometry(image_jpeg, display_scale=display_scale, original_size=original_size)
    colors = semseg_colors(labels)
    base_digest = "" if base is None else hashlib.md5(base.tobytes(), usedforsecurity=False).hexdigest()
    digest = hashlib.md5(image_jpeg, usedforsecurity=False).hexdigest() + base_digest + repr(geom) + f"/{reset}"
    state_key = _STATE_PREFIX + key
    state: dict[str, Any] | None = st.session_state.get(state_key)
    if state is None or state["digest"] != digest:
        background = image_jpeg if base is None else with_mask(image_jpeg, base, colors, alpha=ALPHA)
        gen = 0 if state is None else state["generation"] + 1
        state = {"digest": digest, "generation": gen, "background": background, "cache": None}
        st.session_state[state_key] = state
    if tool == "Eraser":
        color = rgba(colors[0], 0.7)
    else:
        color = rgba(colors[labels.index(current_label) + 1] if current_label in labels else colors[1])
    polygon, auto = tool == "Polygon", tool == AUTO
    result = st_canvas(
        fill_color=color,
        stroke_width=1 if polygon else 2 if auto else max(1, int(brush_px)),
        stroke_color=color,
        point_display_radius=POINT_RADIUS,
        background_image=background_url(state["background"], key) or state["background"],
        update_streamlit=True,
        width=geom.canvas[0],
        height=geom.canvas[1],
        drawing_mode="polygon" if polygon else "point" if auto else "freedraw",
        initial_drawing={"objects": []},
        key=f"{key}::g{state['generation']}",
        background_image_fit="contain",
    )
    fit = result.background_fit
    if fit is None or (fit["natural_width"], fit["natural_height"]) != geom.display:
        return None
    everything = [o for o in (result.json_data or {}).get("objects", []) if isinstance(o, dict)]
    objects = [o for o in everything if str(o.get("type", "")).lower() != "circle"]  # clicks paint nothing
    points = _clicks(everything, fit=fit, display=geom.display, size=original_size)
    fingerprint = hashlib.md5(json.dumps(objects, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
    cached = state.get("cache")
    if cached is not None and cached[0] == fingerprint:
        return MaskResult(cached[1].classes, cached[1].objects, cached[1].changed, points)
    classes = rasterize(objects, size=original_size, fit=fit, display=geom.display, colors=colors, base=base)
    if base is None:
        changed = bool(objects) and bool(classes.any())
    else:
        changed = bool(objects) and not np.array_equal(classes, base)
    out = MaskResult(classes, len(objects), changed, points)
    state["cache"] = (fingerprint, out)
    return out
