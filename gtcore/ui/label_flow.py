"""The Label page's flow (``pages/label.py`` calls ``label_page``): the annotator works through the tasks
of one job, one after another.

The job comes from the Worker portal (``st.session_state["label_job_id"]``, or ``?job=<id>``). The task on the
screen is kept in ``st.session_state["label_task"]`` until the worker acts on it; each rerun renews its lease
(drafts renew it too) and a lost lease is reported while the work stays on the screen (Submit is then refused
with the reason). The buttons act in callbacks, before the page runs, so the next task opens in the same run:
Submit (Ctrl+Enter) commits the answer before saying so and the next task follows (``queue.claim_next``, its
image prepared ahead); Decline opens the next task; Release and Stop and resume later pause here.

Every widget key starts with ``label_``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from typing import NoReturn

import streamlit as st

from gtcore.autolabel.status import preparing_more
from gtcore.core import db as dbm
from gtcore.core.access import WORKER
from gtcore.core.errors import GTError, JobClosed, TaskError
from gtcore.images.task_images import DISPLAY_MAX_SIDE
from gtcore.queue import api as queue
from gtcore.ui.auth import require_actor
from gtcore.ui.autolabel_widgets import preparing_ui
from gtcore.ui.errors import show_error
from gtcore.ui.label_picker import md_escape
from gtcore.ui.resources import get_context
from gtcore.ui.task_session import forget_screen, object_label
from gtcore.ui.task_view import current_answer, lease_timer, render_task_screen, time_left_text

JOB_KEY, TASK_KEY, PAUSED_KEY, NOTICE_KEY = "label_job_id", "label_task", "label_paused", "label_notice"
ERROR_KEY, PENDING_KEY, DONE_KEY = "label_error", "label_submit_pending", "label_job_done"
PORTAL = "pages/portal.py"


def label_page() -> None:
    """Run the Label page: the job's next task, its screen and its buttons, or an end screen."""
    actor = require_actor(WORKER)
    ctx = get_context()

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
        assert job_id is not None
    st.query_params["job"] = str(job_id)

    notice = st.session_state.pop(NOTICE_KEY, None)

    def to_portal(key: str) -> None:
        if st.button("Back to the Worker portal", key=key, icon=":material/arrow_back:"):
            st.session_state.pop(PAUSED_KEY, None)
            st.switch_page(PORTAL)

    def end_screen(message: Callable[[], object], key: str, *, again: str = "") -> NoReturn:
        """A screen without a task: the last notice, why, and the ways on."""
        st.title("Label")
        if notice:
            st.success(notice.removesuffix(" Here is the next task."), icon=":material/check_circle:")
        message()
        if again and st.button(again, key=f"{key}_again", type="primary", icon=":material/play_arrow:"):
            st.session_state.pop(PAUSED_KEY, None)
            st.rerun()
        to_portal(f"{key}_portal")
        st.stop()

    # --- the buttons' callbacks: one queue call each; the page only says "done" once it returned ----------------

    def act(action: str, call: Callable[[], object], notice: str = "", paused: dict | None = None) -> None:
        try:
            call()
        except GTError as exc:
            st.session_state[ERROR_KEY] = (action, exc)
            return
        st.session_state.pop(TASK_KEY, None)
        if notice:
            st.session_state[NOTICE_KEY] = notice
        if paused:
            st.session_state[PAUSED_KEY] = {"job": job_id, **paused}

    def on_submit(task: queue.Task) -> None:
        shown = current_answer("label", task)
        if shown is None:  # the widgets changed since the screen was drawn: draw it, then submit (below)
            st.session_state[PENDING_KEY] = task.assignment_id
            return
        act(
            "submitted",
            partial(submit, task, shown.answer, shown.missing),
            f"Submitted: {object_label(task)} is saved. Here is the next task.",
        )

    def submit(task: queue.Task, answer: dict | None, missing: str | None) -> None:
        if answer is None:
            raise TaskError(f"nothing to submit yet: {missing or 'the task is not shown'}")
        if queue.submit(ctx, actor, task.assignment_id, answer).job_done:  # the job may still be finishing
            st.session_state[DONE_KEY] = task.job_id

    def on_decline(task: queue.Task) -> None:
        reason = str(st.session_state.get(f"label_decline_reason_{task.assignment_id}") or "")
        act(
            "declined",
            partial(queue.decline, ctx, actor, task.assignment_id, reason),
            f"Declined {object_label(task)}: you will not get it again.",
        )

    def on_release(task: queue.Task) -> None:
        act(
            "released",
            partial(queue.release, ctx, actor, task.assignment_id),
            paused={
                "button": "Start working again",
                "message": f"Released {object_label(task)}: it is back in the pool.",
            },
        )

    def on_stop(task: queue.Task) -> None:
        def stop() -> None:
            queue.stop_and_resume_later(ctx, actor, task.assignment_id)
            held = queue.current_task(ctx, actor, task.job_id)
            left = time_left_text((held or task).lease_expires_at, dbm.now())
            st.session_state[PAUSED_KEY] = {
                "job": job_id,
                "button": "Resume",
                "message": (
                    f"Stopped: your work on {object_label(task)} is saved. Resume it while the time limit lasts: "
                    f"{left}."
                ),
            }

        act("stopped", stop)

    # --- the page ------------------------------------------------------------------------------------------------

    paused: dict = st.session_state.get(PAUSED_KEY) or {}
    if paused.get("job") == job_id:
        end_screen(
            lambda: st.success(paused["message"], icon=":material/pause_circle:"),
            "label_paused",
            again=paused["button"],
        )

    task, lost, expires = st.session_state.get(TASK_KEY), None, None
    if task is not None and task.job_id == job_id:
        try:  # the annotator is active on the task on the screen: renew its lease
            expires = queue.heartbeat(ctx, actor, task.assignment_id)
        except GTError as exc:
            lost = exc
    else:
        try:
            task = queue.claim_next(ctx, actor, job_id)
        except JobClosed as exc:  # the job was stopped or completed (perhaps by the answer just submitted)
            end_screen(partial(_closed, exc), "label_closed")
        except GTError as exc:
            end_screen(partial(show_error, exc), "label_error")
        if task is None and st.session_state.get(DONE_KEY) == job_id:  # the last answer; finishing may be under way
            end_screen(partial(_all_done, None), "label_done")
        if task is None and preparing_more(ctx, job_id):  # automated data labeling: the next batch is on its way
            end_screen(partial(preparing_ui, ctx, job_id), "label_preparing")
        if task is None:
            end_screen(
                lambda: st.info(
                    "No task is available to you in this job right now: every object has its "
                    "workers, or you have answered or declined the rest.",
                    icon=":material/inbox:",
                ),
                "label_empty",
                again="Check again",
            )
        forget_screen("label")  # a task handed out again (resumed) opens from its saved draft
        st.session_state[TASK_KEY] = task
        expires = task.lease_expires_at
    assert task is not None

    st.title(md_escape(f"Label: {task.job_name}"))
    st.caption(md_escape(f"{object_label(task).capitalize()} in job {task.job_name}"))
    bar, messages = st.container(), st.container()
    if notice:
        messages.success(notice, icon=":material/check_circle:")
    failed = st.session_state.pop(ERROR_KEY, None)
    if failed:
        with messages:
            show_error(failed[1], prefix=f"Not {failed[0]}")  # the work stays on the screen
    if lost is not None:
        with messages:
            show_error(lost, prefix="This task is no longer yours")
            if st.button(
                "Get a task",
                key="label_next_after_loss",
                icon=":material/skip_next:",
                help="Your saved work comes back if the task is still free",
            ):
                st.session_state.pop(TASK_KEY, None)
                st.rerun()
    result = render_task_screen(ctx, task, preview=False, key_prefix="label", actor=actor, max_side=DISPLAY_MAX_SIDE)

    if st.session_state.pop(PENDING_KEY, None) == task.assignment_id and result is not None:
        act(
            "submitted",
            partial(submit, task, result.answer, result.missing),
            f"Submitted: {object_label(task)} is saved. Here is the next task.",
        )
        st.rerun()

    with bar:
        lease_timer(ctx, actor, task, expires_at=expires, as_of=dbm.now())
        submit_col, decline_col, release_col, stop_col = st.columns([1, 1, 1, 1.3])
        submit_col.button(
            "Submit",
            key="label_submit",
            type="primary",
            shortcut="Ctrl+Enter",
            width="stretch",
            icon=":material/send:",
            help="Ctrl+Enter",
            on_click=on_submit,
            args=(task,),
        )
        with decline_col.popover("Decline", icon=":material/block:", width="stretch"):
            st.text_input("Why (optional)", key=f"label_decline_reason_{task.assignment_id}", max_chars=1000)
            st.button("Decline this task", key="label_decline", type="primary", on_click=on_decline, args=(task,))
        release_col.button(
            "Release",
            key="label_release",
            icon=":material/undo:",
            width="stretch",
            on_click=on_release,
            args=(task,),
            help="Drop this task: it goes back to the pool for others",
        )
        stop_col.button(
            "Stop and resume later",
            key="label_stop",
            icon=":material/pause:",
            width="stretch",
            on_click=on_stop,
            args=(task,),
        )


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
