"""The Label page's buttons (``gtcore.ui.label_flow`` draws them): one queue call each, run as callbacks before
the page runs; the page only says "done" once the call returned. What they leave for the next run lives in the
session keys below (every key starts with ``label_``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import streamlit as st

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import GTError, TaskError
from gtcore.queue import api as queue
from gtcore.ui.lease_timer import time_left_text
from gtcore.ui.task_session import current_answer, object_label

JOB_KEY, TASK_KEY, PAUSED_KEY, NOTICE_KEY = "label_job_id", "label_task", "label_paused", "label_notice"
ERROR_KEY, PENDING_KEY, DONE_KEY = "label_error", "label_submit_pending", "label_job_done"


def _act(action: str, call: Callable[[], object], notice: str = "", paused: dict | None = None) -> None:
    """Run ``call``; on success drop the task from the screen and keep ``notice`` / ``paused`` for the next run,
    on a refusal keep (action, error) for the screen."""
    try:
        call()
    except GTError as exc:
        st.session_state[ERROR_KEY] = (action, exc)
        return
    st.session_state.pop(TASK_KEY, None)
    if notice:
        st.session_state[NOTICE_KEY] = notice
    if paused:
        st.session_state[PAUSED_KEY] = paused


def _submitted(task: queue.Task) -> str:
    """The notice after a Submit."""
    return f"Submitted: {object_label(task)} is saved. Here is the next task."


def on_submit(ctx: Context, actor: Actor, task: queue.Task) -> None:
    shown = current_answer("label", task)
    if shown is None:  # the widgets changed since the screen was drawn: draw it, then submit (label_flow)
        st.session_state[PENDING_KEY] = task.assignment_id
        return
    submit_shown(ctx, actor, task, shown.answer, shown.missing)


def submit_shown(ctx: Context, actor: Actor, task: queue.Task, answer: dict | None, missing: str | None) -> None:
    """Submit what the screen holds (``missing``: why there is nothing to submit yet) and say so."""
    _act("submitted", partial(_submit_answer, ctx, actor, task, answer, missing), _submitted(task))


def _submit_answer(ctx: Context, actor: Actor, task: queue.Task, answer: dict | None, missing: str | None) -> None:
    if answer is None:
        raise TaskError(f"nothing to submit yet: {missing or 'the task is not shown'}")
    if queue.submit(ctx, actor, task.assignment_id, answer).job_done:  # the job may still be finishing
        st.session_state[DONE_KEY] = task.job_id


def on_decline(ctx: Context, actor: Actor, task: queue.Task) -> None:
    reason = str(st.session_state.get(f"label_decline_reason_{task.assignment_id}") or "")
    _act(
        "declined",
        partial(queue.decline, ctx, actor, task.assignment_id, reason),
        f"Declined {object_label(task)}: you will not get it again.",
    )


def on_release(ctx: Context, actor: Actor, task: queue.Task, job_id: int) -> None:
    _act(
        "released",
        partial(queue.release, ctx, actor, task.assignment_id),
        paused={
            "job": job_id,
            "button": "Start working again",
            "message": f"Released {object_label(task)}: it is back in the pool.",
        },
    )


def on_stop(ctx: Context, actor: Actor, task: queue.Task, job_id: int) -> None:
    def stop() -> None:
        queue.stop_and_resume_later(ctx, actor, task.assignment_id)
        held = queue.current_task(ctx, actor, task.job_id)
        left = time_left_text((held or task).lease_expires_at, dbm.now())
        st.session_state[PAUSED_KEY] = {
            "job": job_id,
            "button": "Resume",
            "message": (
                f"Stopped: your work on {object_label(task)} is saved. Resume it while the time limit lasts: {left}."
            ),
        }

    _act("stopped", stop)
