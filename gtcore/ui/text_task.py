"""The text classification screen (single and multi-label), keyboard first.

- The text: inline ``source`` of the manifest line, or the UTF-8 file a ``source-ref`` names (read through the
  store with the task's access rule, ``gtcore.manifests.text_sources``). Shown as plain text (never Markdown or
  HTML), wrapped, in a scrolling box when it is long, so a text of any length stays readable.
- The labels: one button each; keys 1..9, 0 pick the first ten (single label: the key picks; multi-label: the
  key toggles). The choice lives in session state under ``choice_key`` (``task_session.answer_basis`` reads
  it), so Ctrl+Enter (the page's Submit) sends exactly what is on the screen.
- A text that cannot be read (file gone, not UTF-8) is reported and flagged for the team lead once, like a
  broken image; nothing is saved for it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from gtcore.context import Context
from gtcore.core import tasktypes
from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.images import task_images as taskimages
from gtcore.manifests.text_sources import line_text, read_text_source
from gtcore.ui.label_picker import md_escape, shortcut_for
from gtcore.ui.task_session import TaskLike, TaskScreenResult, choice_key

LONG_TEXT_CHARS = 1200  # longer texts (or more than LONG_TEXT_LINES lines) scroll inside a box
LONG_TEXT_LINES = 18
TEXT_BOX_HEIGHT = 420
PER_ROW = 4


def task_text(
    ctx: Context, actor: Actor, task: TaskLike, state: dict[str, Any] | None = None
) -> tuple[str | None, str | None]:
    """``(text, None)`` or ``(None, why it cannot be shown)``; checks that the actor may see the task. With the
    screen's ``state``, a text read once is kept there (a ``source-ref`` file is not read again on every rerun)."""
    if state is not None and isinstance(state.get("text"), str):
        return state["text"], None
    taskimages.check_view(ctx, actor, task)
    line: dict[str, Any] = getattr(task, "line", None) or {}
    inline = line_text(line)
    if inline is not None:
        return inline, None
    if not task.source_ref:
        return None, "this dataset object has neither source text nor a source-ref"
    try:
        text = read_text_source(ctx.storage, task.source_ref)
    except GTError as exc:
        return None, str(exc)
    if state is not None:
        state["text"] = text
    return text, None


def text_unavailable(
    ctx: Context, actor: Actor, task: TaskLike, state: dict[str, Any], error: str | None, preview: bool
) -> TaskScreenResult:
    """Say why the text cannot be shown; flag the object once (not in the Preview); nothing to submit."""
    why = error or "the text cannot be read"
    st.error(f"This text cannot be shown: {md_escape(why)}", icon=":material/error:")
    if not preview and task.assignment_id > 0:
        taskimages.flag_once(ctx, actor, task, why)
        st.info("Decline the task: the object has been flagged for the team lead.", icon=":material/flag:")
    return TaskScreenResult(answer=None, draft=state["saved"], missing="the text cannot be shown", image_error=why)


def show_text(text: str) -> None:
    """The text as plain text, wrapped; long texts in a scrolling box."""
    long = len(text) > LONG_TEXT_CHARS or text.count("\n") >= LONG_TEXT_LINES
    box = st.container(height=TEXT_BOX_HEIGHT if long else "content", border=True)
    box.text(text, width="stretch", wrap=True)
    words = len(text.split())
    st.caption(f"{len(text):,} characters, {words:,} words" + (" (scroll the box to read it all)" if long else ""))


def _pick(key: str, label: str, multi: bool) -> None:
    if multi:
        chosen = list(st.session_state.get(key) or [])
        st.session_state[key] = [x for x in chosen if x != label] if label in chosen else [*chosen, label]
    else:
        st.session_state[key] = label


def label_buttons(labels: list[str], key: str, *, multi: bool, enabled: bool = True) -> None:
    """One button per label; number keys pick (single) or toggle (multi) the first ten."""
    current = st.session_state.get(key)
    chosen = set(current or []) if multi else {current}
    for start in range(0, len(labels), PER_ROW):
        cols = st.columns(PER_ROW)
        for offset, label in enumerate(labels[start : start + PER_ROW]):
            index = start + offset
            shortcut = shortcut_for(index)
            on = label in chosen
            cols[offset].button(
                (f"{shortcut} · " if shortcut else "") + md_escape(label),
                key=f"{key}::b{index}",
                type="primary" if on else "secondary",
                icon=(":material/check_box:" if on else ":material/check_box_outline_blank:") if multi else None,
                shortcut=shortcut,
                help=f"Key {shortcut}" if shortcut else None,
                on_click=_pick,
                args=(key, label, multi),
                width="stretch",
                disabled=not enabled,
            )


def text_classification_ui(
    ctx: Context, actor: Actor, task: TaskLike, state: dict[str, Any], key_prefix: str, preview: bool
) -> TaskScreenResult:
    tt = tasktypes.get(task.task_type)
    labels = list(task.labels)
    text, error = task_text(ctx, actor, task, state)
    if text is None:
        return text_unavailable(ctx, actor, task, state, error, preview)
    show_text(text)
    key = choice_key(key_prefix, task)
    state["widget_keys"] = [key, *(f"{key}::b{i}" for i in range(len(labels)))]
    if key not in st.session_state:
        st.session_state[key] = list(state["seed"] or []) if tt.multi_choice else state["seed"]
    st.caption(
        ("Every label that applies: keys 1-9, 0 toggle" if tt.multi_choice else "The label of this text: keys 1-9, 0")
        + "; Ctrl+Enter submits."
    )
    label_buttons(labels, key, multi=tt.multi_choice)
    if tt.multi_choice:
        picked = [x for x in labels if x in (st.session_state.get(key) or [])]
        state["seed"] = picked
        answer = {tt.answer_element: {"labels": picked}}
        return TaskScreenResult(answer=answer, draft=answer)
    choice = st.session_state.get(key)
    choice = choice if choice in labels else None
    state["seed"] = choice
    if choice is None:
        return TaskScreenResult(answer=None, draft={}, missing="pick a label first")
    single: dict[str, Any] = {tt.answer_element: {"label": choice}}
    return TaskScreenResult(answer=single, draft=single)


def text_screen(
    ctx: Context, actor: Actor, task: TaskLike, state: dict[str, Any], key_prefix: str, preview: bool
) -> TaskScreenResult:
    """The screen of a text task type (the hook ``gtcore.ui.task_view`` calls)."""
    if tasktypes.get(task.task_type).marks_spans:
        from gtcore.ui.entity_task import ner_screen

        return ner_screen(ctx, actor, task, state, key_prefix, preview)
    return text_classification_ui(ctx, actor, task, state, key_prefix, preview)
