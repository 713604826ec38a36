"""The label-verification task screen: the earlier labels drawn read-only on the image (boxes with their class
names, or the mask blended in), one of the team lead's verification labels to pick, and an optional comment.

The answer (``gtcore.output.records_verification`` consolidates it)::

    {"crowd-image-classifier": {"label": "<verification label>", "workerComment": "<text>"}}

``workerComment`` is sent only when the worker wrote something (Ground Truth drops empty comments). Labels,
comments and the summary of the earlier labels are shown as text (Markdown escaped), never as HTML.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from gtcore.context import Context
from gtcore.core import tasktypes
from gtcore.core.access import Actor
from gtcore.images.task_images import DisplayImage
from gtcore.images.task_overlays import labeled_jpeg
from gtcore.queue.answer_checks import MAX_COMMENT
from gtcore.ui.label_picker import md_escape
from gtcore.ui.task_session import TaskLike, TaskScreenResult, choice_key
from gtcore.ui.view_header import zoomed_view
from gtcore.ui.zoom import zoom_text


def comment_key(key_prefix: str, task: TaskLike) -> str:
    return choice_key(key_prefix, task) + "::comment"


def verification_ui(
    ctx: Context,
    actor: Actor,
    task: TaskLike,
    state: dict[str, Any],
    key_prefix: str,
    preview: bool,
    *,
    on_failure: Callable[[dict[str, Any], str, bool], TaskScreenResult],
) -> TaskScreenResult:
    tt = tasktypes.get(task.task_type)
    labels = list(task.labels)
    prev = task.previous or {}
    caption = st.empty()  # the caption first: the image's fullscreen button (top right, on hover) stays clear
    view = zoomed_view(ctx, actor, task, state, key_prefix, preview)  # of the action buttons
    if view.error is not None:
        return on_failure(state, view.error, preview)
    drawn = state.get("verify_jpeg")
    if drawn is None or drawn[0] != view.view:  # the earlier labels drawn on this view, once per view
        img = DisplayImage(view.vimg.uri, view.jpeg, view.view.scale, view.view.original)
        drawn = (view.view, *labeled_jpeg(ctx, actor, task, img, view.rect))
        state["verify_jpeg"] = drawn
    _, jpeg, summary = drawn
    caption.caption(
        f"Labels to verify ({md_escape(str(prev.get('attribute') or 'earlier job'))}): {md_escape(summary)}"
    )
    st.image(jpeg, width="content")
    st.caption(zoom_text(view.view))
    key, ckey = choice_key(key_prefix, task), comment_key(key_prefix, task)
    state["widget_keys"] = [key, ckey]
    body = (task.draft or {}).get(tt.answer_element) or {}
    seed = state["seed"]
    choice = st.radio(
        "Are these labels right?",
        labels,
        index=labels.index(seed) if seed in labels else None,
        format_func=md_escape,
        key=key,
    )
    state["seed"] = choice
    comment = st.text_area(
        "Comment (optional)",
        value=str(body.get("workerComment") or "") if isinstance(body, dict) else "",
        max_chars=MAX_COMMENT,
        key=ckey,
    )
    if choice is None:
        return TaskScreenResult(answer=None, draft={}, missing="pick a verification label first")
    inner: dict[str, Any] = {"label": choice}
    if comment and comment.strip():
        inner["workerComment"] = comment
    answer = {tt.answer_element: inner}
    return TaskScreenResult(answer=answer, draft=answer)
