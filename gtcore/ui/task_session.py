"""What the labeling screen remembers between reruns, per screen (``key_prefix``) and task, in session state.

- ``screen_state``: the memory of the task on the screen (the boxes or choice to open the widgets with, the
  draft last saved, the widget keys to forget when the next task comes), reset when the task changes;
- ``forget_screen``: drop that memory, for a task handed out again (resumed after a pause);
- ``seed``: what a task opens with: the worker's draft, else (adjustment) the chained-from boxes;
- ``current_answer``: the answer the screen last computed, only while its widgets still hold exactly what it
  was computed from (``answer_basis``), so a button callback may submit it before the page runs again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import streamlit as st

from gtcore.core import tasktypes
from gtcore.images.task_images import TaskLike as ImageTaskLike


class TaskLike(ImageTaskLike, Protocol):
    """The fields of ``gtcore.queue.claim.Task`` the screen reads (read-only, so the frozen dataclass matches)."""

    @property
    def task_type(self) -> str: ...
    @property
    def labels(self) -> list[str]: ...
    @property
    def draft(self) -> dict | None: ...
    @property
    def instructions(self) -> dict: ...
    @property
    def previous(self) -> dict | None: ...


@dataclass(frozen=True)
class TaskScreenResult:
    """What the annotator has on the screen now.

    ``answer`` is the answerContent for ``queue.submit`` (None while it is not complete: ``missing`` says
    why); ``image_error`` is set when the image cannot be shown (the message is already on the screen).
    """

    answer: dict | None
    draft: dict
    missing: str | None = None
    image_error: str | None = None

    @property
    def ready(self) -> bool:
        return self.answer is not None


def screen_state(key_prefix: str, task: TaskLike) -> dict[str, Any]:
    """This screen's memory for this assignment; forgets the previous assignment's (and its canvas)."""
    holder_key = f"{key_prefix}::screen"
    state: dict[str, Any] | None = st.session_state.get(holder_key)
    ident = (task.job_id, task.assignment_id, task.object_idx)
    if state is None or state.get("ident") != ident:
        if state is not None:
            for key in state.get("widget_keys", ()):
                st.session_state.pop(key, None)
        state = {"ident": ident, "seed": seed(task), "saved": task.draft or {}, "prefetched": False, "widget_keys": []}
        st.session_state[holder_key] = state
    return state


def forget_screen(key_prefix: str) -> None:
    """Drop this screen's memory (and its widgets' state), so the next task shown opens from what the queue
    gave: a task resumed after a pause is drawn from its saved draft, not from a canvas that is gone."""
    state: dict[str, Any] | None = st.session_state.pop(f"{key_prefix}::screen", None)
    for key in (state or {}).get("widget_keys", ()):
        st.session_state.pop(key, None)


def object_label(task: Any) -> str:
    """``"object 3 of 12"``: 1-based for people (the datasetObjectId is 2), "of N" when the count is known."""
    count = int(getattr(task, "object_count", 0) or 0)
    return f"object {task.object_idx + 1}" + (f" of {count}" if count else "")


def seed(task: TaskLike) -> Any:
    """The answer to open the task with: the worker's draft, else (adjustment) the chained-from boxes."""
    tt = tasktypes.get(task.task_type)
    body = (task.draft or {}).get(tt.answer_element)
    if tt.paints_mask:
        return None  # the mask screen opens the draft's PNG itself (gtcore.ui.mask_view)
    if tt.draws_boxes:
        if isinstance(body, dict) and isinstance(body.get("boundingBoxes"), list):
            return [dict(b) for b in body["boundingBoxes"] if isinstance(b, dict)]
        previous = task.previous or {}
        return [dict(b) for b in previous.get("boundingBoxes") or [] if _box_like(b)]
    if not isinstance(body, dict):
        return [] if tt.multi_choice else None
    if tt.multi_choice:
        chosen = body.get("labels")
        return [x for x in chosen if x in task.labels] if isinstance(chosen, list) else []
    return body.get("label") if body.get("label") in task.labels else None


def _box_like(box: Any) -> bool:
    if not isinstance(box, dict) or not isinstance(box.get("label"), str):
        return False
    return all(
        isinstance(box.get(k), int | float) and not isinstance(box.get(k), bool)
        for k in ("left", "top", "width", "height")
    )


def canvas_key(key_prefix: str, task: TaskLike) -> str:
    return f"{key_prefix}::canvas::{task.assignment_id}::{task.object_idx}"


def choice_key(key_prefix: str, task: TaskLike) -> str:
    return f"{key_prefix}::choice::{task.assignment_id}::{task.object_idx}"


def answer_basis(key_prefix: str, task: TaskLike) -> str | None:
    """A fingerprint of the widget values the answer is computed from; None when it cannot be read."""
    tt = tasktypes.get(task.task_type)
    extra: list[str] = []
    if tt.draws_boxes or tt.paints_mask:
        ckey = canvas_key(key_prefix, task)
        prefix = "_gt_mask::" if tt.paints_mask else "_gt_canvas::"  # gtcore.ui.mask_canvas / canvas state
        cstate = st.session_state.get(f"{prefix}{ckey}")
        if not isinstance(cstate, dict) or "generation" not in cstate:
            return None
        widget_key = f"{ckey}::g{cstate['generation']}"
    else:
        widget_key = choice_key(key_prefix, task)
        if tt.verifies:
            extra = [widget_key + "::comment"]
    if widget_key not in st.session_state:
        return None
    try:
        values = [st.session_state[k] for k in (widget_key, *extra) if k in st.session_state]
        return json.dumps(values, sort_keys=True, default=repr)
    except Exception:  # an unreadable widget value: the caller renders the screen again instead
        return None


def current_answer(key_prefix: str, task: TaskLike) -> TaskScreenResult | None:
    """What the screen last showed for ``task``, if its widgets still hold exactly what it was computed from.

    For action callbacks, which run before the page: a Submit can then commit and the same run can open the
    next task. None when it may be stale (the widgets changed since): render the screen, then submit.
    """
    state = st.session_state.get(f"{key_prefix}::screen")
    if not state or state.get("ident") != (task.job_id, task.assignment_id, task.object_idx):
        return None
    basis = answer_basis(key_prefix, task)
    if basis is None or basis != state.get("basis"):
        return None
    result: TaskScreenResult | None = state.get("result")
    return result


def remember(key_prefix: str, task: TaskLike, state: dict[str, Any], result: TaskScreenResult) -> None:
    """Keep ``result`` with the widget values it was computed from (see ``current_answer``)."""
    st.session_state[f"{key_prefix}::result"] = result
    state["result"], state["basis"] = result, answer_basis(key_prefix, task)
