"""THE labeling screen: instructions on the left, the task on the right. Used by the Label page and the Preview.

    result = render_task_screen(ctx, task, preview=False, key_prefix="label", actor=actor)
    if result and result.answer is not None: queue.submit(ctx, actor, task.assignment_id, result.answer)

- Left column: the short instructions, a "Full instructions" expander, the good and bad example images with
  their captions. Instructions are Markdown written by the team lead; HTML in them is escaped (shown as
  text, never rendered).
- Right column: bounding box (and adjustment) jobs get the label picker (keys 1..9, 0), the zoom bar
  (``gtcore.ui.zoom``: Fit, 2x, 4x, 1:1 and steps between, pan, an overview) and the box canvas over the view's
  JPEG at the column's width, opened with the worker's saved draft, else (adjustment) the chained-from
  boxes, with an Undo (Ctrl+Z) over every change of the task, whatever the view; classification jobs get the
  image and a single-choice radio; multi-label jobs a multi-choice.
- The picker, canvas and choice widgets run in one ``st.fragment``: a label switch or a drawn box reruns
  only that part. In worker mode every change is saved at once as a server-side draft
  (``queue.save_draft``, which also renews the lease), so a refresh or a crash loses nothing; the images
  of the next tasks are prepared ahead, at the zoom in use (``task_views.prefetch_next_views_later``).
- ``preview=True`` (the team lead's Preview, with a ``gtcore.queue.claim.Task``-shaped stand-in whose
  ``assignment_id`` is -1): the same screen, but no queue call is made and nothing is saved.

The action buttons (Submit, Decline, Release, Stop) and the lease's clock (``gtcore.ui.lease_timer``) belong to the
Label page, not to this screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from gtcore.context import Context
from gtcore.core import tasktypes
from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.images import task_images as taskimages
from gtcore.images import task_views
from gtcore.images.task_images import DISPLAY_MAX_SIDE, DisplayImage
from gtcore.images.views import ViewSpec
from gtcore.queue import api as queue
from gtcore.ui.box_screen import MISSING_IMAGE as _MISSING_IMAGE
from gtcore.ui.box_screen import boxes_ui
from gtcore.ui.errors import show_error
from gtcore.ui.instructions_md import show_instructions
from gtcore.ui.label_picker import md_escape
from gtcore.ui.mask_view import segmentation_ui
from gtcore.ui.task_session import (
    TaskLike,
    TaskScreenResult,
    choice_key,
    remember,
    screen_state,
)
from gtcore.ui.text_task import text_screen
from gtcore.ui.verify_view import verification_ui

# --------------------------------------------------------------------------- left column


def instructions_ui(ctx: Context, actor: Actor, task: TaskLike, key_prefix: str) -> None:
    """Short instructions, the full ones in an expander, and the good/bad examples with captions."""
    ins = task.instructions or {}
    short = str(ins.get("Short") or "").strip()
    full = str(ins.get("Full") or "").strip()
    examples = [e for e in ins.get("Examples") or [] if isinstance(e, dict) and e.get("ImageUri")]
    uris = [str(e["ImageUri"]) for e in examples]

    def load(uri: str) -> DisplayImage:
        return taskimages.example_image(ctx, actor, task, uri)

    st.subheader("Instructions")
    if short:
        show_instructions(short, uris, load)
    elif not full:
        st.caption("The team lead gave no instructions for this job.")
    if full:
        with st.expander("Full instructions", icon=":material/menu_book:"):
            show_instructions(full, uris, load)
    for kind, title, icon in (
        ("good", "Good examples", ":material/check_circle:"),
        ("bad", "Bad examples", ":material/cancel:"),
    ):
        chosen = [e for e in examples if e.get("Kind") == kind]
        if not chosen:
            continue
        with st.expander(title, expanded=True, icon=icon):
            for ex in chosen:
                img = taskimages.example_image(ctx, actor, task, str(ex["ImageUri"]))
                if img.jpeg is not None and img.ok:
                    st.image(img.jpeg, width="stretch")
                else:
                    st.warning(md_escape(f"Example image not shown: {img.error}"), icon=":material/broken_image:")
                if ex.get("Caption"):
                    st.caption(md_escape(str(ex["Caption"])))


# --------------------------------------------------------------------------- right column


def _image_failed(state: dict[str, Any], error: str, preview: bool) -> TaskScreenResult:
    st.error(md_escape(f"This image cannot be shown: {error}"), icon=":material/broken_image:")
    if not preview:
        st.info("Decline the task: the object has been flagged for the team lead.", icon=":material/flag:")
    return TaskScreenResult(answer=None, draft=state["saved"], missing="the image cannot be shown", image_error=error)


def _choice_ui(task: TaskLike, img: DisplayImage, state: dict[str, Any], key_prefix: str) -> TaskScreenResult:
    tt = tasktypes.get(task.task_type)
    labels = list(task.labels)
    assert img.jpeg is not None
    st.image(img.jpeg, width="content")
    key = choice_key(key_prefix, task)
    state["widget_keys"] = [key]
    if tt.multi_choice:
        chosen = st.pills(
            "Every label that applies",
            labels,
            selection_mode="multi",
            default=state["seed"],
            format_func=md_escape,
            key=key,
        )
        picked = [x for x in labels if x in (chosen or [])]
        state["seed"] = picked  # a remounted widget opens with the latest choice
        answer = {tt.answer_element: {"labels": picked}}
        return TaskScreenResult(answer=answer, draft=answer)
    seed = state["seed"]
    choice = st.radio(
        "The label of this image",
        labels,
        index=labels.index(seed) if seed in labels else None,
        format_func=md_escape,
        key=key,
    )
    state["seed"] = choice
    if choice is None:
        return TaskScreenResult(answer=None, draft={}, missing="pick a label first")
    single: dict[str, Any] = {tt.answer_element: {"label": choice}}
    return TaskScreenResult(answer=single, draft=single)


def _save_draft(ctx: Context, actor: Actor, task: TaskLike, state: dict[str, Any], draft: dict) -> None:
    if draft == state["saved"] or (not state["saved"] and not task.previous and _blank(draft)):
        return  # nothing new (a fresh canvas reporting "no boxes yet" is not worth a write)
    try:  # an empty drawing never erases saved work this screen did not hold (gtcore refuses it)
        queue.save_draft(ctx, actor, task.assignment_id, draft, replaces=state["saved"] or None)
    except GTError as exc:
        show_error(exc, prefix="Your work is on the screen but could not be saved")
        return
    state["saved"] = draft


def _blank(draft: dict) -> bool:
    body = next(iter(draft.values()), None) if len(draft) == 1 else None
    return isinstance(body, dict) and body.get("boundingBoxes") == []


def _kind(task: TaskLike) -> str:
    tt = tasktypes.get(task.task_type)
    return "boxes" if tt.draws_boxes else "mask" if tt.paints_mask else "verify" if tt.verifies else ""


_ZOOMED_SCREENS = {"boxes": boxes_ui, "mask": segmentation_ui, "verify": verification_ui}


@st.fragment
def _task_fragment(
    ctx: Context, actor: Actor, task: TaskLike, preview: bool, key_prefix: str, max_side: int
) -> TaskScreenResult:
    state = screen_state(key_prefix, task)
    if tasktypes.get(task.task_type).text:  # text classification (gtcore.ui.text_task)
        result = text_screen(ctx, actor, task, state, key_prefix, preview)
    elif (hook := _ZOOMED_SCREENS.get(_kind(task))) is not None:  # boxes, masks, verification
        result = hook(ctx, actor, task, state, key_prefix, preview, on_failure=_image_failed)
    else:
        img = taskimages.task_image(ctx, actor, task, max_side=max_side, flag=not preview)
        if not img.ok or img.jpeg is None:
            result = _image_failed(state, img.error or "the image cannot be shown", preview)
        else:
            result = _choice_ui(task, img, state, key_prefix)
    if not preview and result.missing != _MISSING_IMAGE and not result.image_error:
        _save_draft(ctx, actor, task, state, result.draft)
    if not preview and not tasktypes.get(task.task_type).text:
        _prefetch(ctx, actor, task, state, max_side)
    remember(key_prefix, task, state, result)
    return result


def _prefetch(ctx: Context, actor: Actor, task: TaskLike, state: dict[str, Any], max_side: int) -> None:
    """Prepare the next tasks' images (in the background) once per task, and again when the zoom changes."""
    spec: ViewSpec | None = state.get("spec")
    wanted = None if spec is None else (spec.box, spec.level)
    if state["prefetched"] and state.get("prefetched_for") == wanted:
        return
    state["prefetched"], state["prefetched_for"] = True, wanted
    if spec is None:
        taskimages.prefetch_next_later(ctx, actor, task, max_side=max_side)  # the run does not wait for it
        return
    from gtcore.ui.zoom import OVERVIEW_SIDE

    task_views.prefetch_next_views_later(
        ctx, actor, task, [ViewSpec(spec.box, spec.level)], overview_side=OVERVIEW_SIDE
    )


def render_task_screen(
    ctx: Context,
    task: TaskLike,
    *,
    preview: bool,
    key_prefix: str,
    actor: Actor | None = None,
    max_side: int = DISPLAY_MAX_SIDE,
    columns: tuple[float, float] = (1.0, 3.0),
    messages: Callable[[], None] | None = None,
) -> TaskScreenResult | None:
    """Render the labeling screen of ``task``; return what the annotator has on it now.

    Args:
        ctx: the Context (``gtcore.ui.resources.get_context()``).
        task: a ``gtcore.queue.claim.Task`` (or, for the Preview, a stand-in with the same fields, assignment_id -1).
        preview: the team lead's Preview: no queue call, nothing saved.
        key_prefix: prefix of every widget key and session-state key of this screen (one per page).
        actor: the signed-in user (default: ``gtcore.ui.auth.current_actor()``). In worker mode, the holder.
        max_side: longest side of the display JPEG (the canvas).
        columns: relative widths of the instructions and task columns.
        messages: draws the page's messages at the top of the instructions column, beside the task: what they
            say comes and goes without moving the canvas (whose size depends on where it starts).

    Returns:
        A TaskScreenResult (the latest one is also in ``st.session_state[f"{key_prefix}::result"]``), or
        None when nobody is signed in or the task type has no screen (a message is shown).
    """
    if actor is None:
        from gtcore.ui.auth import current_actor

        actor = current_actor()
        if actor is None:
            st.info("Please sign in first.", icon=":material/login:")
            return None
    try:
        tasktypes.get(task.task_type)
    except KeyError as exc:
        st.error(md_escape(f"Tasks of type {task.task_type!r} cannot be shown here: {exc}"), icon=":material/error:")
        return None
    left, right = st.columns(list(columns), gap="medium")
    try:
        with left:
            if messages is not None:
                messages()
            instructions_ui(ctx, actor, task, key_prefix)
        with right:
            return _task_fragment(ctx, actor, task, preview, key_prefix, max_side)
    except GTError as exc:  # PermissionDenied, NotFound ...
        show_error(exc)
        return None
