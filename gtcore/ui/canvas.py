"""The labeling canvas: labeled boxes drawn over a display-sized JPEG, read back in original-image pixels.

The pixel spaces (original, display, canvas) and their conversions are in ``gtcore.ui.canvas_geometry``.

Zoom: ``view=(x, y, w, h)`` says the JPEG shows only that part of the original (``gtcore.images.task_views``
cuts it). The canvas then holds only the boxes that reach into the view; the others are kept aside and
returned unchanged, and a box the worker did not touch comes back exactly as given (its part outside the
view included). A new view is a new component instance (its undo history starts again); until the browser
reports it, the boxes given are returned (they are exactly what it shows).

The JPEG reaches the browser as a same-origin URL served by Streamlit's media endpoint (fetched once,
raw bytes). Passed as bytes, the library inlines it as a base64 data URL in the component's arguments,
and every change of those arguments (a label switch changes ``label`` and the stroke colour) would
re-send the whole image over the websocket. Outside a browser session (AppTest) the bytes are passed.

streamlit-drawable-canvas 0.13 reports ``boxes_in_image_space`` in *display* pixels: the natural size
of the background image it was given (checked in a real browser by tests/test_canvas_browser.py), so
``original = image_space / (sx, sy)``.

The canvas reloads its drawing (and clears its undo history) whenever ``initial_drawing`` changes, so
the initial drawing is built once per key and image and kept in session state. Passing back the boxes
this function returned (or the same boxes as before) keeps it; passing different boxes is taken as a
deliberate reset and remounts the canvas with them (to reset to the very boxes given first, change
the key).
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

import streamlit as st

from gtcore.core.colors import UNKNOWN_HEX, class_hex
from gtcore.core.errors import Problem, ValidationError
from gtcore.ui.canvas_geometry import (
    DECIMALS,
    CanvasGeometry,
    canvas_size,
    jpeg_size,
    keep_exact,
    plan_geometry,
    same_boxes,
    validate_boxes,
)

__all__ = [
    "DECIMALS",
    "CanvasGeometry",
    "background_url",
    "box_canvas",
    "canvas_fit",
    "canvas_size",
    "initial_drawing",
    "jpeg_size",
    "label_color",
    "plan_geometry",
    "validate_boxes",
]

STROKE_WIDTH = 2
FONT_SIZE = 14
FILL_ALPHA = 0.12
_STATE_PREFIX = "_gt_canvas::"


def label_color(labels: list[str], label: str) -> str:
    """The class-map colour of ``label``: its class id is its position in ``labels`` (as in Ground Truth)."""
    return class_hex(labels.index(label)) if label in labels else UNKNOWN_HEX


def _fill(color: str) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {FILL_ALPHA})"


def initial_drawing(geom: CanvasGeometry, boxes: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    """The canvas's initial drawing for boxes in original pixels, each stroked in its label's colour."""
    from streamlit_drawable_canvas import boxes_to_drawing

    objects: list[dict[str, Any]] = []
    for box in boxes:
        color = label_color(labels, str(box["label"]))
        drawing = boxes_to_drawing(
            [geom.to_canvas(box)], stroke_color=color, stroke_width=STROKE_WIDTH, fill_color=_fill(color)
        )
        for obj in drawing["objects"]:
            obj["fontSize"] = FONT_SIZE
            objects.append(obj)
    return {"objects": objects}


def in_browser() -> bool:
    """Whether this run serves a browser (not AppTest): only then do components report back."""
    from streamlit import runtime

    return bool(st.context.url) and runtime.exists()


def background_url(image_jpeg: bytes, key: str) -> str | None:
    """An absolute URL serving ``image_jpeg`` from Streamlit's media endpoint, or None without a browser.

    The file is registered for this session under the canvas key (content-addressed, so reruns give
    the same URL and the browser does not reload it) and Streamlit drops it when no run references it.
    """
    from streamlit import config, runtime

    page_url = st.context.url
    if not page_url or not runtime.exists():
        return None
    parts = urlsplit(page_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    media_path = runtime.get_instance().media_file_mgr.add(image_jpeg, "image/jpeg", _STATE_PREFIX + key)
    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"{parts.scheme}://{parts.netloc}{'/' + base if base else ''}{media_path}"


def box_canvas(
    image_jpeg: bytes,
    *,
    display_scale: float,
    original_size: tuple[int, int],
    labels: list[str],
    current_label: str,
    boxes: list[dict],
    key: str,
    max_display: tuple[int, int] | None = None,
    read_only: bool = False,
    view: tuple[float, float, float, float] | None = None,
) -> list[dict] | None:
    """Show a box-drawing canvas over ``image_jpeg`` and return the boxes on it.

    Args:
        image_jpeg: the display JPEG (orientation applied), sent to the browser as is.
        display_scale: display size / original size (as ``gtcore.images.decoding.display_jpeg`` returns it),
            or, with ``view``, display size / view size.
        original_size: (width, height) of the original image, the space of ``boxes`` and of the result.
        labels: the job's labels, in order (their position picks the colour).
        current_label: the label stamped on boxes drawn from now on; must be one of ``labels``.
        boxes: boxes ``{"label","left","top","width","height"}`` in original pixels to show first. Passing
            back what this returned keeps the canvas (and its undo history); different boxes reset it.
        key: a widget key unique on the page (use one per task).
        max_display: (width, height) the canvas may take at most; the image is shrunk to fit.
        read_only: show the boxes without toolbar or drawing.
        view: (x, y, w, h) of the original the JPEG shows (zoom); None: the whole image.

    Returns:
        Every box in original pixels (floats rounded to 2 decimals, clipped to the image, labels as the
        worker left them: relabelling on the canvas is free text; boxes outside the view and untouched boxes
        exactly as given), or None until the browser has loaded the first image of this key and reported back.

    Raises:
        ImageError: the JPEG cannot be decoded or its size does not match the view at display_scale.
        ValidationError: bad sizes, view, boxes, or a current_label not in labels (every problem listed).
    """
    from streamlit_drawable_canvas import st_canvas

    geom = plan_geometry(
        image_jpeg, display_scale=display_scale, original_size=original_size, max_display=max_display, view=view
    )
    boxes = validate_boxes(boxes)
    if not read_only and current_label not in labels:
        raise ValidationError([Problem(f"{current_label!r} is not one of the job's labels", field="current_label")])

    state_key = _STATE_PREFIX + key
    digest = hashlib.md5(image_jpeg, usedforsecurity=False).hexdigest() + repr(geom)
    old: dict[str, Any] | None = st.session_state.get(state_key)
    if (
        old is not None
        and old["digest"] == digest
        and (same_boxes(boxes, old["seed"]) or same_boxes(boxes, old["last"]))
    ):
        state = old
    else:  # first show, another image or view, or the caller reset the boxes: a new component instance
        shown = [dict(b) for b in boxes if geom.shows(b)]
        state = {
            "digest": digest,
            "generation": 0 if old is None else old["generation"] + 1,
            "seed": [dict(b) for b in boxes],
            "shown": shown,
            "aside": [dict(b) for b in boxes if not geom.shows(b)],
            "last": None,
            "drawing": initial_drawing(geom, shown, labels),
        }
        st.session_state[state_key] = state

    color = label_color(labels, current_label)
    result = st_canvas(
        fill_color=_fill(color),
        stroke_width=STROKE_WIDTH,
        stroke_color=color,
        background_image=background_url(image_jpeg, key) or image_jpeg,
        update_streamlit=True,
        width=geom.canvas[0],
        height=geom.canvas[1],
        drawing_mode="labeled_rect",
        initial_drawing=state["drawing"],
        key=f"{key}::g{state['generation']}",
        disabled=read_only,
        background_image_fit="contain",
        font_size=FONT_SIZE,
        label="" if read_only else current_label,
    )
    fit = result.background_fit
    state["fit"] = fit
    if fit is None or (fit["natural_width"], fit["natural_height"]) != geom.display:
        if state["generation"] == 0:
            return None
        out = [dict(b) for b in state["seed"]]  # a new view or a reset: the canvas shows exactly these
    else:
        out = state["aside"] + keep_exact(result.boxes, state["shown"], geom)
    state["last"] = out
    return out


def canvas_fit(key: str) -> dict[str, float] | None:
    """The background fit the browser last reported for the canvas ``key`` (natural size, scale, offset)."""
    state = st.session_state.get(_STATE_PREFIX + key)
    return None if state is None else state.get("fit")
