"""The lease's clock on the Label page: the time left until the task's real deadline (acceptance +
TaskTimeLimitInSeconds; activity never moves it), with a warning near the end and a notice once the task went back
to the pool."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.queue import api as queue
from gtcore.ui.errors import show_error
from gtcore.ui.task_session import TaskLike


def time_left_text(expires_at: float, now: float) -> str:
    """``"4:05 (until 10:31:00 UTC)"``, or that the time limit has ended."""
    left = int(expires_at - now)
    until = datetime.fromtimestamp(expires_at, UTC).strftime("%H:%M:%S UTC")
    if left <= 0:
        return f"The time limit of this task ended at {until}."
    hours, rest = divmod(left, 3600)
    clock = f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
    return f"{clock} (until {until})"


@st.fragment(run_every=10)
def lease_timer(
    ctx: Context, actor: Actor, task: TaskLike, *, expires_at: float | None = None, as_of: float | None = None
) -> None:
    """The time left until the task's real deadline (acceptance + TaskTimeLimitInSeconds: activity never moves
    it), re-read from the database every 10 s, with a warning in the last ``WARN_SECONDS``.

    ``expires_at`` (with ``as_of``, the time of the page run that knows it, e.g. from ``queue.heartbeat``)
    spares that read on the page's own runs; the 10 s ticks rerun with the same ``as_of`` and read.
    """
    seen_key = f"_gt_lease_timer::{task.assignment_id}"
    if expires_at is not None and as_of is not None and st.session_state.get(seen_key) != as_of:
        st.session_state[seen_key] = as_of
        _time_left(expires_at, dbm.now())
        return
    try:
        held = queue.current_task(ctx, actor, task.job_id)
    except GTError as exc:
        show_error(exc)
        return
    if held is None or held.assignment_id != task.assignment_id:
        st.warning(
            "Your time limit for this task ended and it went back to the pool: it can no longer be "
            "submitted. Your drawing stays on the screen.",
            icon=":material/timer_off:",
        )
        return
    _time_left(held.lease_expires_at, dbm.now())


WARN_SECONDS = 60.0


def _time_left(expires_at: float, now: float) -> None:
    st.caption(f"Time left: {time_left_text(expires_at, now)}")
    if 0 < expires_at - now <= WARN_SECONDS:
        st.warning(
            f"Less than {WARN_SECONDS:.0f} seconds left for this task: submit now. At the deadline it goes back to "
            "the pool and cannot be submitted (working on it does not extend the time limit).",
            icon=":material/timer:",
        )
