"""The Label page's flow (``pages/label.py`` calls ``label_page``): the annotator works through the tasks
of one job, one after another.

The job comes from the Worker portal (``st.session_state["label_job_id"]``, or ``?job=<id>``). The task on the
screen is kept in ``st.session_state["label_task"]`` until the worker acts on it; each rerun renews its lease
(drafts renew it too) and a lost lease is reported while the work stays on the screen (Submit is then refused
with the reason). The buttons act in callbacks, before the page runs, so the next task opens in the same run:
Submit (Ctrl+Enter) commits the answer before saying so and the next task follows (``queue.claim_next``, its
image prepared ahead); Decline opens the next task; Release and Stop and resume later pause here. The buttons'
callbacks and the session keys are in ``gtcore.ui.label_actions``.

Every widget key starts with ``label_``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from functools import partial
from typing import NoReturn

import streamlit as st

from gtcore.autolabel.status import preparing_more
from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import WORKER, Actor
from gtcore.core.errors import GTError, JobClosed
from gtcore.images.task_images import DISPLAY_MAX_SIDE
from gtcore.queue import api as queue
from gtcore.ui.auth import require_actor
from gtcore.ui.autolabel_widgets import preparing_ui
from gtcore.ui.errors import show_error
from gtcore.ui.label_actions import (
    DONE_KEY,
    ERROR_KEY,
    JOB_KEY,
    NOTICE_KEY,
    PAUSED_KEY,
    PENDING_KEY,
    TASK_KEY,
    on_decline,
    on_release,
    on_stop,
    on_submit,
    submit_shown,
)
from gtcore.ui.label_picker import md_escape
from gtcore.ui.lease_timer import lease_timer
from gtcore.ui.resources import get_context
from gtcore.ui.task_session import TaskScreenResult, forget_screen, object_label
from gtcore.ui.task_view import render_task_screen

PORTAL = "pages/portal.py"


def label_page() -> None:
    """Run the Label page: the job's next task, its screen and its buttons, or an end screen."""
    actor = require_actor(WORKER)
    ctx = get_context()
    job_id = _job_ui()
    notice: str | None = st.session_state.pop(NOTICE_KEY, None)
    _paused_ui(job_id, notice)
    task, lost, expires = _task_ui(ctx, actor, job_id, notice)
    st.title(md_escape(f"Label: {task.job_name}"))
    st.caption(md_escape(f"{object_label(task).capitalize()} in job {task.job_name}"))
    _actions_ui(ctx, actor, task, job_id, expires)  # above the task: where the canvas starts is known when drawn
    result = render_task_screen(
        ctx,
        task,
        preview=False,
        key_prefix="label",
        actor=actor,
        max_side=DISPLAY_MAX_SIDE,
        messages=partial(_messages_ui, notice, lost),
    )
    _pending_submit(ctx, actor, task, result)


# --- the page, top to bottom -------------------------------------------------------------------------------------


def _job_ui() -> int:
    """The job to work on (``?job=<id>`` or the portal's choice), kept in the URL; stops without one."""
    with contextlib.suppress(ValueError):
        if st.query_params.get("job"):
            st.session_state[JOB_KEY] = int(st.query_params["job"])
    job_id: int | None = st.session_state.get(JOB_KEY)
    if job_id is None:
        st.title("Label")
        st.info("Choose a job on the Worker portal first.", icon=":material/work:")
        if st.button("Open the Worker portal", key="label_to_portal"):
            st.switch_page(PORTAL)
        st.stop()
        raise AssertionError("unreachable")
    st.query_params["job"] = str(job_id)
    return job_id


def _paused_ui(job_id: int, notice: str | None) -> None:
    """After Release or Stop: say so and offer to go on (stops the page)."""
    paused: dict = st.session_state.get(PAUSED_KEY) or {}
    if paused.get("job") == job_id:
        _end_screen(
            partial(st.success, md_escape(paused["message"]), icon=":material/pause_circle:"),
            "label_paused",
            notice,
            again=paused["button"],
        )


def _task_ui(
    ctx: Context, actor: Actor, job_id: int, notice: str | None
) -> tuple[queue.Task, GTError | None, float | None]:
    """The task on the screen (its lease renewed; a lost lease is returned), else the next one claimed, else an
    end screen (stops the page). Returns (task, lost, lease expiry)."""
    task = st.session_state.get(TASK_KEY)
    if task is not None and task.job_id == job_id:
        try:  # the annotator is active on the task on the screen: renew its lease
            return task, None, queue.heartbeat(ctx, actor, task.assignment_id)
        except GTError as exc:
            return task, exc, None
    try:
        task = queue.claim_next(ctx, actor, job_id)
    except JobClosed as exc:  # the job was stopped or completed (perhaps by the answer just submitted)
        _end_screen(partial(_closed, exc), "label_closed", notice)
    except GTError as exc:
        _end_screen(partial(show_error, exc), "label_error", notice)
    if task is None and st.session_state.get(DONE_KEY) == job_id:  # the last answer; finishing may be under way
        _end_screen(partial(_all_done, None), "label_done", notice)
    if task is None and preparing_more(ctx, job_id):  # automated data labeling: the next batch is on its way
        _end_screen(partial(preparing_ui, ctx, job_id), "label_preparing", notice)
    if task is None:
        # not finished (that is JobClosed or the done screen above): nothing for him right now
        _end_screen(partial(_nothing_right_now, ctx, actor, job_id), "label_empty", notice, again="Check again")
    forget_screen("label")  # a task handed out again (resumed) opens from its saved draft
    st.session_state[TASK_KEY] = task
    return task, None, task.lease_expires_at


def _messages_ui(notice: str | None, lost: GTError | None) -> None:
    """The last action's notice, its error, and a lost lease (the work stays on the screen), beside the task."""
    if notice:
        st.success(md_escape(notice), icon=":material/check_circle:")
    failed = st.session_state.pop(ERROR_KEY, None)
    if failed:
        show_error(failed[1], prefix=f"Not {failed[0]}")
    if lost is None:
        return
    show_error(lost, prefix="This task is no longer yours")
    if st.button(
        "Get a task",
        key="label_next_after_loss",
        icon=":material/skip_next:",
        help="Your saved work comes back if the task is still free",
    ):
        st.session_state.pop(TASK_KEY, None)
        st.rerun()


def _pending_submit(ctx: Context, actor: Actor, task: queue.Task, result: TaskScreenResult | None) -> None:
    """A Submit pressed while the widgets were changing: the screen is drawn now, so submit what it holds."""
    if st.session_state.pop(PENDING_KEY, None) == task.assignment_id and result is not None:
        submit_shown(ctx, actor, task, result.answer, result.missing)
        st.rerun()


def _actions_ui(ctx: Context, actor: Actor, task: queue.Task, job_id: int, expires: float | None) -> None:
    """The time left and the buttons: Submit (Ctrl+Enter), Decline (with a reason), Release, Stop."""
    lease_timer(ctx, actor, task, expires_at=expires, as_of=dbm.now())
    submit_col, decline_col, release_col, stop_col = st.columns([1, 1, 1, 1.3])
    args = (ctx, actor, task)
    submit_col.button(
        "Submit",
        key="label_submit",
        type="primary",
        shortcut="Ctrl+Enter",
        width="stretch",
        icon=":material/send:",
        help="Ctrl+Enter",
        on_click=on_submit,
        args=args,
    )
    with (
        decline_col.popover("Decline", icon=":material/block:", width="stretch"),
        st.form(key=f"label_decline_form_{task.assignment_id}", border=False, enter_to_submit=False),
    ):  # a form: no "Press Enter to apply" over the typed reason, the reason is sent with the button
        st.text_input("Why (optional)", key=f"label_decline_reason_{task.assignment_id}", max_chars=1000)
        st.form_submit_button("Decline this task", key="label_decline", type="primary", on_click=on_decline, args=args)
    release_col.button(
        "Release",
        key="label_release",
        icon=":material/undo:",
        width="stretch",
        on_click=on_release,
        args=(*args, job_id),
        help="Drop this task: it goes back to the pool for others",
    )
    stop_col.button(
        "Stop and resume later",
        key="label_stop",
        icon=":material/pause:",
        width="stretch",
        on_click=on_stop,
        args=(*args, job_id),
    )


# --- screens without a task --------------------------------------------------------------------------------------


def _end_screen(message: Callable[[], object], key: str, notice: str | None, *, again: str = "") -> NoReturn:
    """A screen without a task: the last notice, why, and the ways on."""
    st.title("Label")
    if notice:
        st.success(md_escape(notice.removesuffix(" Here is the next task.")), icon=":material/check_circle:")
    message()
    if again and st.button(again, key=f"{key}_again", type="primary", icon=":material/play_arrow:"):
        st.session_state.pop(PAUSED_KEY, None)
        st.rerun()
    if st.button("Back to the Worker portal", key=f"{key}_portal", icon=":material/arrow_back:"):
        st.session_state.pop(PAUSED_KEY, None)
        st.switch_page(PORTAL)
    st.stop()
    raise AssertionError("unreachable")


RECHECK_SECONDS = 5


def _nothing_right_now(ctx: Context, actor: Actor, job_id: int) -> None:
    """The job still runs but holds no task for this worker now (every open object has its workers, or he has
    answered or declined the rest): said apart from "finished", and checked again every ``RECHECK_SECONDS``; a
    task that frees up (a lease that ran out, a release) opens here by itself, as does the end of the job."""
    st.info(
        "No task is available to you in this job right now: every object has its workers, or you have "
        "answered or declined the rest. The job is not finished: checking again every "
        f"{RECHECK_SECONDS} seconds, and the next task opens here by itself.",
        icon=":material/hourglass_empty:",
    )

    @st.fragment(run_every=RECHECK_SECONDS)
    def recheck() -> None:
        try:
            task = queue.claim_next(ctx, actor, job_id)
        except JobClosed:
            st.rerun(scope="app")  # the full run says how it ended
        except GTError as exc:
            show_error(exc, prefix="Checking for a task failed")
            return
        if task is not None:
            st.session_state[TASK_KEY] = task
            forget_screen("label")
            st.rerun(scope="app")
        st.caption(f"Checked at {time.strftime('%H:%M:%S', time.gmtime())} UTC.")

    recheck()


def _all_done(job_name: str | None) -> None:
    what = f"job {job_name}" if job_name else "this job"
    st.success(
        f"All done: every object of {md_escape(what)} has its answers. Thank you for your work!",
        icon=":material/task_alt:",
    )


def _closed(exc: JobClosed) -> None:
    """The end screen of a job that hands out no more tasks: good news when it completed, else why."""
    if exc.status == "Completed":
        _all_done(exc.job_name)
    else:
        st.info(
            f"Job {md_escape(exc.job_name)} is {md_escape(exc.status)}: it hands out no more tasks.",
            icon=":material/block:",
        )
