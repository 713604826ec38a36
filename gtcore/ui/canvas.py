"""The labeling canvas: labeled boxes drawn over a display-sized JPEG, read back in original-image pixels.

Three pixel spaces meet here:

- *original*: the source image after EXIF orientation. Callers pass and receive boxes in it.
- *display*: the display-sized JPEG sent to the browser, ``original * (sx, sy)`` where
  ``sx = display_w / original_w`` (about ``display_scale``; per axis, so rounding of the display
  size does not skew the far edge).
- *canvas*: the drawing surface. It is the display size unless ``max_display`` shrinks it; the JPEG
  is fitted into it with ``background_image_fit="contain"`` (uniform scale ``c``, centred offset).

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
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import streamlit as st

from gtcore.core.colors import UNKNOWN_HEX, class_hex
from gtcore.core.errors import ImageError, Problem, ValidationError

STROKE_WIDTH = 2
FONT_SIZE = 14
FILL_ALPHA = 0.12
DECIMALS = 2
_SCALE_TOLERANCE_PX = 2.0
_STATE_PREFIX = "_gt_canvas::"


def label_color(labels: list[str], label: str) -> str:
    """The class-map colour of ``label``: its class id is its position in ``labels`` (as in Ground Truth)."""
    return class_hex(labels.index(label)) if label in labels else UNKNOWN_HEX


def _fill(color: str) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {FILL_ALPHA})"


@dataclass(frozen=True)
class CanvasGeometry:
    """Sizes of the three pixel spaces and the conversions between them."""

    original: tuple[int, int]
    display: tuple[int, int]
    canvas: tuple[int, int]

    @property
    def sx(self) -> float:
        return self.display[0] / self.original[0]

    @property
    def sy(self) -> float:
        return self.display[1] / self.original[1]

    @property
    def fit(self) -> tuple[float, float, float]:
        """(scale, offset_x, offset_y) of the display JPEG inside the canvas, as the frontend's "contain"."""
        (cw, ch), (dw, dh) = self.canvas, self.display
        c = min(cw / dw, ch / dh)
        return c, (cw - dw * c) / 2, (ch - dh * c) / 2

    def to_canvas(self, box: dict[str, Any]) -> dict[str, Any]:
        """A box in original pixels -> canvas pixels."""
        c, ox, oy = self.fit
        return {
            "label": str(box["label"]),
            "left": float(box["left"]) * self.sx * c + ox,
            "top": float(box["top"]) * self.sy * c + oy,
            "width": float(box["width"]) * self.sx * c,
            "height": float(box["height"]) * self.sy * c,
        }

    def from_image_space(self, box: dict[str, Any]) -> dict[str, Any] | None:
        """A box in display-JPEG pixels -> original pixels, clipped to the image, rounded; None if empty."""
        w, h = self.original
        x0 = min(max(box["left"] / self.sx, 0.0), w)
        y0 = min(max(box["top"] / self.sy, 0.0), h)
        x1 = min(max((box["left"] + box["width"]) / self.sx, 0.0), w)
        y1 = min(max((box["top"] + box["height"]) / self.sy, 0.0), h)
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
) -> CanvasGeometry:
    """Check the sizes agree and return the geometry of one canvas."""
    problems: list[Problem] = []
    ow, oh = original_size
    if ow <= 0 or oh <= 0:
        problems.append(Problem(f"must be positive, got {original_size!r}", field="original_size"))
    if not (display_scale > 0 and math.isfinite(display_scale)):
        problems.append(Problem(f"must be a positive number, got {display_scale!r}", field="display_scale"))
    if max_display is not None and (max_display[0] <= 0 or max_display[1] <= 0):
        problems.append(Problem(f"must be positive, got {max_display!r}", field="max_display"))
    if problems:
        raise ValidationError(problems, "the canvas cannot be set up")
    display = jpeg_size(image_jpeg)
    expected = (ow * display_scale, oh * display_scale)
    if any(abs(d - e) > _SCALE_TOLERANCE_PX for d, e in zip(display, expected, strict=True)):
        raise ImageError(
            f"the display image is {display[0]}x{display[1]} px but original_size {ow}x{oh} at "
            f"display_scale {display_scale:g} gives {expected[0]:.0f}x{expected[1]:.0f} px"
        )
    return CanvasGeometry(original=(ow, oh), display=display, canvas=canvas_size(display, max_display))


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


def _same_boxes(a: list[dict[str, Any]] | None, b: list[dict[str, Any]] | None) -> bool:
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
) -> list[dict] | None:
    """Show a box-drawing canvas over ``image_jpeg`` and return the boxes on it.

    Args:
        image_jpeg: the display-sized JPEG (orientation applied), sent to the browser as is.
        display_scale: display size / original size (as ``gtcore.images.decoding.display_jpeg`` returns it).
        original_size: (width, height) of the original image, the space of ``boxes`` and of the result.
        labels: the job's labels, in order (their position picks the colour).
        current_label: the label stamped on boxes drawn from now on; must be one of ``labels``.
        boxes: boxes ``{"label","left","top","width","height"}`` in original pixels to show first. Passing
            back what this returned keeps the canvas (and its undo history); different boxes reset it.
        key: a widget key unique on the page (use one per task).
        max_display: (width, height) the canvas may take at most; the image is shrunk to fit.
        read_only: show the boxes without toolbar or drawing.

    Returns:
        The boxes on the canvas in original pixels (floats rounded to 2 decimals, clipped to the image,
        labels as the worker left them: relabelling on the canvas is free text), or None until the
        browser has loaded the image and reported back.

    Raises:
        ImageError: the JPEG cannot be decoded or its size does not match original_size * display_scale.
        ValidationError: bad sizes, boxes, or a current_label not in labels (every problem listed).
    """
    from streamlit_drawable_canvas import st_canvas

    geom = plan_geometry(image_jpeg, display_scale=display_scale, original_size=original_size, max_display=max_display)
    boxes = validate_boxes(boxes)
    if not read_only and current_label not in labels:
        raise ValidationError([Problem(f"{current_label!r} is not one of the job's labels", field="current_label")])

    state_key = _STATE_PREFIX + key
    digest = hashlib.md5(image_jpeg, usedforsecurity=False).hexdigest() + repr(geom)
    old: dict[str, Any] | None = st.session_state.get(state_key)
    if (
        old is not None
        and old["digest"] == digest
        and (_same_boxes(boxes, old["seed"]) or _same_boxes(boxes, old["last"]))
    ):
        state = old
    else:  # first show, another image, or the caller reset the boxes: a new component instance
        state = {
            "digest": digest,
            "generation": 0 if old is None else old["generation"] + 1,
            "seed": [dict(b) for b in boxes],
            "last": None,
            "drawing": initial_drawing(geom, boxes, labels),
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
        return None
    image_space = result.boxes_in_image_space or []
    out = [b for b in (geom.from_image_space(x) for x in image_space) if b is not None]
    state["last"] = out
    return out


def canvas_fit(key: str) -> dict[str, float] | None:
    """The background fit the browser last reported for the canvas ``key`` (natural size, scale, offset)."""
    state = st.session_state.get(_STATE_PREFIX + key)
    return None if state is None else state.get("fit")
