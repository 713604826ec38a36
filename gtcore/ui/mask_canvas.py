"""The semantic-segmentation canvas: brush, eraser, polygon fill and auto-segment clicks over the view's JPEG;
the mask is built in original-image pixels on the server, at any zoom.

The browser only draws vectors (streamlit-drawable-canvas's ``freedraw``, ``polygon`` and ``point`` modes, with
its toolbar's undo, redo and reset). Each stroke and polygon comes back as a Fabric.js object in canvas pixels;
``gtcore.ui.mask_raster.rasterize`` replays them in order onto a class-index mask of the ORIGINAL size, so the
mask has the resolution of the image whatever the zoom.

Zoom (``view=(x, y, w, h)``: the JPEG shows only that part of the original, as for boxes in ``gtcore.ui.canvas``):
each view is a new component instance. When the view changes, the strokes of the view left are painted into the
*committed* mask (read from the component's last report in the session, so a stroke followed at once by a zoom
key is not lost), and the new view's background shows the committed mask blended in; strokes on the new view
are painted over it. So strokes across views make one mask. The toolbar's undo works within a view; earlier
views' strokes are part of the committed mask (the eraser takes them out).

A ``base`` mask (the worker's draft, the earlier mask of an adjustment task, or the mask an auto-segment
merged) is the starting point: a new ``base`` or ``reset`` starts the committed mask again from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

from gtcore.core.colors import parse_hex, semseg_colors
from gtcore.images.task_overlays import with_mask
from gtcore.ui.canvas import background_url, plan_geometry
from gtcore.ui.canvas_geometry import CanvasGeometry
from gtcore.ui.mask_raster import clicks, rasterize

AUTO = "Auto-segment"
TOOLS = ("Brush", "Eraser", "Polygon", AUTO)
POINT_RADIUS = 4
ALPHA = 0.55
_STATE_PREFIX = "_gt_mask::"


@dataclass(frozen=True)
class MaskResult:
    classes: np.ndarray  # H x W uint8 class indices, original size
    objects: int  # strokes and polygons painted on this task (earlier views' included)
    changed: bool  # the mask differs from the base it started from
    points: tuple[tuple[float, float], ...] = ()  # auto-segment clicks, original pixels, in click order


def rgba(hex_color: str, alpha: float = ALPHA) -> str:
    r, g, b = parse_hex(hex_color)
    return f"rgba({r}, {g}, {b}, {alpha})"


def _digest(arr: np.ndarray | None) -> str:
    return "" if arr is None else hashlib.md5(arr.tobytes(), usedforsecurity=False).hexdigest()


def _painted(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if str(o.get("type", "")).lower() != "circle"]  # clicks paint nothing


def _reported(canvas_key: str) -> tuple[list[dict[str, Any]], dict[str, float] | None] | None:
    """The objects and background fit the component ``canvas_key`` last reported (this session), if any."""
    try:
        value = st.session_state[canvas_key]
    except (KeyError, AttributeError, st.errors.StreamlitAPIException):
        return None
    if not isinstance(value, dict):
        return None
    raw = (value.get("drawing") or {}).get("raw") if isinstance(value.get("drawing"), dict) else None
    fit = value.get("backgroundFit")
    if not isinstance(raw, dict) or not isinstance(fit, dict):
        return None
    objects = [o for o in raw.get("objects") or [] if isinstance(o, dict)]
    keys = ("naturalWidth", "naturalHeight", "scaleX", "scaleY", "offsetX", "offsetY")
    names = ("natural_width", "natural_height", "scale_x", "scale_y", "offset_x", "offset_y")
    try:
        return objects, {n: float(fit[k]) for n, k in zip(names, keys, strict=True)}
    except (KeyError, TypeError, ValueError):
        return None


def _layer(state: dict[str, Any]) -> dict[str, Any] | None:
    """The painted objects of the canvas being left, as a layer of the committed mask (None: nothing painted)."""
    seen = _reported(state["canvas"]) or state.get("last")
    geom: CanvasGeometry = state["geom"]
    if seen is None or seen[1] is None:
        return None
    objects, fit = _painted(seen[0]), seen[1]
    if not objects or (fit["natural_width"], fit["natural_height"]) != geom.display:
        return None
    return {"canvas": state["canvas"], "geom": geom, "fit": fit, "objects": objects}


def _paint(mask: np.ndarray | None, layers: list[dict[str, Any]], colors: list[str]) -> np.ndarray | None:
    for layer in layers:
        geom: CanvasGeometry = layer["geom"]
        mask = rasterize(
            layer["objects"],
            size=geom.original,
            fit=layer["fit"],
            display=geom.display,
            colors=colors,
            base=mask,
            rect=geom.rect,
        )
    return mask


def _commit(state: dict[str, Any], colors: list[str]) -> None:
    """Paint the strokes of the canvas being left into the committed mask (a layer on top of the others)."""
    layer = _layer(state)
    if layer is not None:
        state["layers"].append(layer)
        state["committed"] = _paint(state["committed"], [layer], colors)


def _late_reports(state: dict[str, Any], colors: list[str]) -> None:
    """A canvas left for another view may report its last stroke after the view changed (a stroke and a zoom key
    at once): take it into its layer and paint the committed mask again, layer by layer in their order."""
    late = False
    for layer in state["layers"]:
        seen = _reported(layer["canvas"])
        if seen is None or seen[1] is None:
            continue
        objects = _painted(seen[0])
        if objects and objects != layer["objects"]:
            layer["objects"], layer["fit"], late = objects, seen[1], True
    if late:
        state["committed"] = _paint(state["base"], state["layers"], colors)
        state["cache"] = None


def _background(image_jpeg: bytes, committed: np.ndarray | None, geom: CanvasGeometry, colors: list[str]) -> bytes:
    if committed is None or not committed.any():
        return image_jpeg
    x, y, w, h = geom.rect
    part = Image.fromarray(committed, "L").resize(geom.display, Image.Resampling.NEAREST, box=(x, y, x + w, y + h))
    return with_mask(image_jpeg, np.asarray(part), colors, alpha=ALPHA)


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
    view: tuple[float, float, float, float] | None = None,
) -> MaskResult | None:
    """Show the painting canvas; return the mask on it (original pixels), or None until the browser reported.

    ``image_jpeg`` shows the whole image, or with ``view`` that part of the original (``display_scale`` is then
    display size / view size). ``brush_px`` is the brush (and eraser) diameter in screen pixels; ``base`` the
    mask to start from (its identity must not change between reruns of the same task, or the canvas starts again
    from it); a new ``reset`` starts again from ``base`` even when its pixels did not change (strokes, clicks and
    earlier views' strokes cleared).
    """
    from streamlit_drawable_canvas import st_canvas

    geom = plan_geometry(image_jpeg, display_scale=display_scale, original_size=original_size, view=view)
    colors = semseg_colors(labels)
    start = f"{_digest(base)}/{original_size}/{reset}"
    shown = hashlib.md5(image_jpeg, usedforsecurity=False).hexdigest() + repr(geom)
    state_key = _STATE_PREFIX + key
    state: dict[str, Any] | None = st.session_state.get(state_key)
    if state is None or state["start"] != start:
        gen = 0 if state is None else state["generation"] + 1
        committed = None if base is None else base.copy()
        state = {"start": start, "base": base, "committed": committed, "layers": [], "generation": gen}
        state.update(shown=None, last=None, cache=None)
        st.session_state[state_key] = state
    elif state["shown"] != shown:  # another view (zoom, pan): keep what was painted on the one left
        _commit(state, colors)
        state["generation"] += 1
    else:
        _late_reports(state, colors)
    if state["shown"] != shown:
        state.update(shown=shown, geom=geom, last=None, cache=None)
        state["background"] = _background(image_jpeg, state["committed"], geom, colors)
        state["canvas"] = f"{key}::g{state['generation']}"
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
        key=state["canvas"],
        background_image_fit="contain",
    )
    fit = result.background_fit
    if fit is None or (fit["natural_width"], fit["natural_height"]) != geom.display:
        if state["generation"] == 0 and not state["layers"]:
            return None
        return _result(state, [], (), base)  # a new view not reported yet: the mask so far
    everything = [o for o in (result.json_data or {}).get("objects", []) if isinstance(o, dict)]
    state["last"] = (everything, fit)
    objects = _painted(everything)
    points = clicks(everything, fit=fit, display=geom.display, size=original_size, rect=geom.rect)
    fingerprint = hashlib.md5(json.dumps(objects, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
    cached = state.get("cache")
    if cached is not None and cached[0] == fingerprint:
        return MaskResult(cached[1].classes, cached[1].objects, cached[1].changed, points)
    committed = state["committed"]
    classes = rasterize(
        objects, size=original_size, fit=fit, display=geom.display, colors=colors, base=committed, rect=geom.rect
    )
    out = _result(state, objects, points, base, classes)
    state["cache"] = (fingerprint, out)
    return out


def _result(
    state: dict[str, Any],
    objects: list[dict[str, Any]],
    points: tuple[tuple[float, float], ...],
    base: np.ndarray | None,
    classes: np.ndarray | None = None,
) -> MaskResult:
    if classes is None:
        w, h = state["geom"].original
        classes = state["committed"] if state["committed"] is not None else np.zeros((h, w), np.uint8)
    n = sum(len(layer["objects"]) for layer in state["layers"]) + len(objects)
    differs = bool(classes.any()) if base is None else not np.array_equal(classes, base)
    changed = bool(n) and differs
    return MaskResult(classes, n, changed, points)
