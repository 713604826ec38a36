"""The semantic-segmentation task screen (and its adjustment): label picker (keys 1-9, 0), tool (brush, eraser,
polygon fill), brush size, the painting canvas (``gtcore.ui.mask_canvas``), and the answer as Ground Truth's
``crowd-semantic-segmentation`` element writes it (groundtruth-reference.md 1.5)::

    {"crowd-semantic-segmentation": {"labeledImage": {"pngImageData": "<base64 PNG>"},
                                     "labelMappings": {"<label>": {"color": "#rrggbb"}, ...},
                                     "inputImageProperties": {"height": h, "width": w}}}

The PNG has the original image's size, each pixel in its class colour (BACKGROUND white); it is written as a
palette PNG, which decodes to exactly those colours. Adjustment answers add ``initialValueModified``. A task
opens with the worker's draft mask, else (adjustment) the earlier job's mask.
"""

from __future__ import annotations

import base64
import copy
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from gtcore.context import Context
from gtcore.core import tasktypes
from gtcore.core.access import Actor
from gtcore.core.colors import parse_hex, semseg_colors
from gtcore.core.errors import GTError
from gtcore.core.textsafe import md_escape
from gtcore.images import autosegment
from gtcore.images.drawing import legend_strip
from gtcore.images.task_overlays import previous_classes
from gtcore.output.mask_png import decode_color_png, encode_palette_png, png_from_base64
from gtcore.ui.errors import show_error
from gtcore.ui.label_picker import label_picker
from gtcore.ui.mask_canvas import AUTO, TOOLS, MaskResult, mask_canvas
from gtcore.ui.task_session import TaskLike, TaskScreenResult, canvas_key
from gtcore.ui.view_header import zoomed_view
from gtcore.ui.zoom import zoom_text

MISSING = "the image is still loading"
BRUSH_DEFAULT = 16


def mask_answer(classes: np.ndarray, labels: list[str], *, modified: bool | None = None) -> dict[str, Any]:
    colors = semseg_colors(labels)
    png = encode_palette_png(classes, colors)
    body: dict[str, Any] = {
        "labeledImage": {"pngImageData": base64.b64encode(png).decode("ascii")},
        "labelMappings": {name: {"color": colors[i + 1]} for i, name in enumerate(labels)},
        "inputImageProperties": {"height": int(classes.shape[0]), "width": int(classes.shape[1])},
    }
    if modified is not None:
        body["initialValueModified"] = modified
    return {tasktypes.SEMANTIC_SEGMENTATION.answer_element: body}


@functools.lru_cache(maxsize=16)
def _empty_answer(size: tuple[int, int], labels: tuple[str, ...], modified: bool | None) -> dict[str, Any]:
    """The answer of an empty mask (encoding a full-size PNG of zeros costs 30-70 ms of every new task's run)."""
    return mask_answer(np.zeros((size[1], size[0]), np.uint8), list(labels), modified=modified)


def _base(ctx: Context, actor: Actor, task: TaskLike, original_size: tuple[int, int], state: dict[str, Any]) -> Any:
    """The mask the task opens with (kept in the screen state: its identity must not change)."""
    if "mask_base" in state:
        return state["mask_base"], state["mask_base_modified"]
    labels = list(task.labels)
    body = (task.draft or {}).get(tasktypes.SEMANTIC_SEGMENTATION.answer_element)
    base, modified = None, False
    if isinstance(body, dict):
        try:
            data = png_from_base64((body.get("labeledImage") or {}).get("pngImageData"))
            base = decode_color_png(data, semseg_colors(labels), original_size)
            modified = body.get("initialValueModified") is True
        except GTError:
            base = None  # an unusable draft: start again from the earlier mask or a blank one
    if base is None and tasktypes.get(task.task_type).is_adjustment:
        try:
            base = previous_classes(ctx, actor, task, labels)
        except GTError as exc:
            st.warning(md_escape(f"The earlier mask cannot be shown: {exc}"), icon=":material/broken_image:")
        if base is not None and base.shape != (original_size[1], original_size[0]):
            st.warning("The earlier mask has another size than the image; starting from an empty mask.")
            base = None
    state["mask_base"], state["mask_base_modified"] = base, modified
    return base, modified


def segmentation_ui(
    ctx: Context,
    actor: Actor,
    task: TaskLike,
    state: dict[str, Any],
    key_prefix: str,
    preview: bool,
    *,
    on_failure: Callable[[dict[str, Any], str, bool], TaskScreenResult],
) -> TaskScreenResult:
    labels = list(task.labels)
    adjustment = tasktypes.get(task.task_type).is_adjustment
    current = label_picker(labels, key=f"{key_prefix}::picker", per_row=min(5, len(labels)))
    colors = semseg_colors(labels)
    legend = [(name, parse_hex(colors[i + 1])) for i, name in enumerate(labels)] + [("eraser", (255, 255, 255))]
    # one row of tools and one of paint colours: every pixel of height above the canvas is the canvas's at Fit
    row = st.container(horizontal=True, gap="medium", vertical_alignment="center")
    with row:
        tool_key = f"{key_prefix}::tool::{task.assignment_id}::{task.object_idx}"  # each task starts with the brush
        tool = st.segmented_control(
            "Tool", TOOLS, default="Brush", key=tool_key, label_visibility="collapsed", width="content"
        )
        tool = tool or "Brush"
        brush = st.slider(
            "Brush size (screen pixels)",
            2,
            80,
            BRUSH_DEFAULT,
            format="Brush %d px",
            key=f"{key_prefix}::brush",
            label_visibility="collapsed",
            width="stretch",
        )
    st.image(legend_strip(legend), caption=None, width="content")
    shown = zoomed_view(ctx, actor, task, state, key_prefix, preview)
    if shown.error is not None:
        return on_failure(state, shown.error, preview)
    ckey = canvas_key(key_prefix, task)
    state["widget_keys"] = [f"_gt_mask::{ckey}"]
    if shown.waiting:  # the session's first canvas waits for the room: one image, at its size
        return TaskScreenResult(answer=None, draft=state["saved"], missing=MISSING)
    view = shown.view
    base, base_modified = _base(ctx, actor, task, view.original, state)
    result = mask_canvas(
        shown.jpeg,
        display_scale=shown.display_scale,
        original_size=view.original,
        labels=labels,
        current_label=current,
        tool=tool,
        brush_px=brush,
        base=base,
        key=ckey,
        reset=state.get("mask_resets", 0),
        view=shown.rect,
    )
    if result is None:
        st.caption(zoom_text(view))
        return TaskScreenResult(answer=None, draft=state["saved"], missing=MISSING)
    if tool == AUTO:
        _auto_segment_ui(ctx, actor, task, state, result, labels, current)
    modified = (base_modified or result.changed) if adjustment else None
    cached = state.get("mask_answer")
    if cached is not None and cached[0] is result.classes and cached[1] == modified:
        answer = cached[2]
    elif result.objects == 0 and base is None:  # a new task, nothing painted: the same empty mask for every task
        answer = copy.deepcopy(_empty_answer(view.original, tuple(labels), modified))
        state["mask_answer"] = (result.classes, modified, answer)
    else:  # PNG-encode once per mask, not on every rerun
        answer = mask_answer(result.classes, labels, modified=modified)
        state["mask_answer"] = (result.classes, modified, answer)
    if result.objects == 0 and base is None:
        st.caption(zoom_text(view))
        return TaskScreenResult(answer=answer, draft=state["saved"])  # nothing painted yet: no draft write
    painted = int(np.count_nonzero(result.classes))
    st.caption(
        f"{painted:,} of {result.classes.size:,} pixels of this image labelled. Keys 1-9 and 0 "
        f"switch the label; a {brush} px brush covers about {brush / view.scale:.0f} px of the original image. The "
        "toolbar above the image has undo, redo and reset (for the strokes on this view: what was painted on an "
        "earlier view stays, the eraser takes it out). A polygon is filled when you click its first point."
    )
    st.caption(zoom_text(view))
    return TaskScreenResult(answer=answer, draft=answer)


def _auto_segment_ui(
    ctx: Context,
    actor: Actor,
    task: TaskLike,
    state: dict[str, Any],
    result: MaskResult,
    labels: list[str],
    current: str,
) -> None:
    """Ground Truth's auto-segment: after four clicks on the object's extremes its mask fills in the current
    label; the mask so far (strokes included) becomes the canvas's base, where brush and eraser correct it."""
    failed = state.pop("auto_error", None)
    if failed is not None:
        show_error(failed, prefix="Not auto-segmented")
    n = len(result.points)
    st.caption(
        f"Auto-segment: click the object's leftmost, topmost, rightmost and bottommost points ({n} of 4); its "
        f"mask then fills in the label {md_escape(current)}. Correct it with the brush and the eraser."
    )
    if n < 4:
        return
    merged = result.classes.copy()
    try:
        found = autosegment.task_object_mask(ctx, actor, task, result.points[:4])
    except GTError as exc:
        state["auto_error"] = exc  # said after the rerun, which clears the clicks
    else:
        merged[found] = labels.index(current) + 1 if current in labels else 1
        state["mask_base_modified"] = True
    state["mask_base"] = merged
    state["mask_resets"] = state.get("mask_resets", 0) + 1  # the canvas starts again from the merged mask
    state.pop("mask_answer", None)
    try:
        st.rerun(scope="fragment")
    except st.errors.StreamlitAPIException:
        st.rerun()
