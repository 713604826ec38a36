"""The bounding-box task screen: label picker, zoom bar, canvas over the view, and an Undo over the whole task.

Part of ``gtcore.ui.task_view`` (which calls ``boxes_ui`` inside its fragment). The screen state (``state``, from
``gtcore.ui.task_session.screen_state``) holds ``seed`` (the boxes the canvas opens with, in original pixels, all
of them whatever the view), ``history`` (every box list the task has had, for Undo; Ctrl+Z) and ``spec`` (the
view asked for, which the next tasks' prefetch follows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.ui import zoom
from gtcore.ui.label_picker import label_picker
from gtcore.ui.task_session import TaskLike, TaskScreenResult, canvas_key
from gtcore.ui.view_header import zoomed_view

MISSING_IMAGE = "the image is still loading"
HISTORY = 100


def _box_answer(boxes: list[dict], original_size: tuple[int, int]) -> dict:
    w, h = original_size
    return {
        "boundingBox": {
            "boundingBoxes": [{k: b[k] for k in ("height", "label", "left", "top", "width")} for b in boxes],
            "inputImageProperties": {"height": h, "width": w},
        }
    }


def _undo(state: dict[str, Any]) -> None:
    history: list[list[dict]] = state["history"]
    if len(history) > 1:
        history.pop()
        state["seed"] = [dict(b) for b in history[-1]]


def boxes_ui(
    ctx: Context,
    actor: Actor,
    task: TaskLike,
    state: dict[str, Any],
    key_prefix: str,
    preview: bool,
    *,
    on_failure: Callable[[dict[str, Any], str, bool], TaskScreenResult],
) -> TaskScreenResult:
    """The picker, the zoom bar and the canvas of a bounding-box task; ``on_failure`` shows an image error."""
    from gtcore.ui.canvas import box_canvas

    labels = list(task.labels)
    current = label_picker(labels, key=f"{key_prefix}::picker", per_row=min(5, len(labels)))
    shown = zoomed_view(ctx, actor, task, state, key_prefix, preview, drag_guard=True)
    if shown.error is not None:
        return on_failure(state, shown.error, preview)
    ckey = canvas_key(key_prefix, task)
    state["widget_keys"] = [f"_gt_canvas::{ckey}"]
    if shown.waiting:  # the session's first canvas waits for the room: one image, at its size
        return TaskScreenResult(answer=None, draft=state["saved"], missing=MISSING_IMAGE)
    view = shown.view
    # pass back the latest boxes: that keeps the canvas, and a new view or image re-opens it with them
    boxes = box_canvas(
        shown.jpeg,
        display_scale=shown.display_scale,
        original_size=view.original,
        labels=labels,
        current_label=current,
        boxes=state["seed"],
        key=ckey,
        view=shown.rect,
    )
    history: list[list[dict]] = state.setdefault("history", [[dict(b) for b in state["seed"]]])
    if boxes is None:
        st.caption(zoom.zoom_text(view))  # the browser has not reported the canvas yet: keep what is saved
        saved = state["saved"]
        return TaskScreenResult(answer=None, draft=saved, missing=MISSING_IMAGE)
    state["seed"] = boxes
    if boxes != history[-1]:
        history.append([dict(b) for b in boxes])
        del history[:-HISTORY]
    answer = _box_answer(boxes, view.original)
    n = len(boxes)
    note, undo = st.columns([5, 1], vertical_alignment="center")
    note.caption(
        f"{n} box{'es' if n != 1 else ''} drawn on object {task.object_idx + 1}. Keys 1-9 and 0 switch the label; "
        "the toolbar above the image has undo, redo, edit (move, resize) and delete; Undo here (Ctrl+Z) steps "
        "back through every change, whatever the zoom."
    )
    undo.button(
        "Undo",
        key=f"{key_prefix}::undo",
        icon=":material/undo:",
        shortcut="Ctrl+Z",
        help="Undo the last change of the boxes (Ctrl+Z)",
        on_click=_undo,
        args=(state,),
        disabled=len(history) < 2,
        width="stretch",
    )
    st.caption(zoom.zoom_text(view))
    return TaskScreenResult(answer=answer, draft=answer)
