"""Worker portal: the labeling jobs of the worker's teams, what is available in each, and "Start working"."""

from __future__ import annotations

import streamlit as st

from gtcore.core import tasktypes
from gtcore.core.access import WORKER
from gtcore.core.errors import GTError
from gtcore.queue import api as queue
from gtcore.ui import autolabel_widgets as aw
from gtcore.ui.auth import require_actor
from gtcore.ui.errors import show_error
from gtcore.ui.label_picker import md_escape
from gtcore.ui.resources import get_context

actor = require_actor(WORKER)
ctx = get_context()
st.title("Worker portal")

try:
    listed = queue.worker_jobs(ctx, actor)
except GTError as exc:
    show_error(exc)
    st.stop()

if not listed and not actor.team_ids:
    st.info("You are not in a work team yet: ask your team lead to add you to one.", icon=":material/group_off:")
    st.button("Check again", key="portal_refresh", icon=":material/refresh:")
    st.stop()
if not listed:
    st.info("There are no labeling jobs for your teams right now.", icon=":material/inbox:")
    st.button("Check again", key="portal_refresh", icon=":material/refresh:")
    st.stop()

st.caption(f"{len(listed)} job(s) for your teams. Start working to get tasks one after another.")
for job in listed:
    with st.container(border=True, key=f"portal_job_{job.job_id}"):
        st.subheader(md_escape(job.title))
        if job.description:
            st.text(job.description)
        try:
            kind = tasktypes.get(job.task_type).title
        except KeyError:
            kind = job.task_type
        st.caption(md_escape(f"Job {job.name} - {kind}"))
        available, submitted, in_progress, action = st.columns([1, 1, 1, 1.4], vertical_alignment="bottom")
        available.metric("Tasks available", job.available)
        submitted.metric("Submitted by you", job.my_submitted)
        in_progress.metric("In progress (yours)", job.my_in_progress)
        resume = job.my_in_progress > 0
        if not (resume or job.available):
            aw.preparing_caption(ctx, job.job_id)
        if action.button(
            "Resume" if resume else "Start working",
            key=f"portal_start_{job.job_id}",
            type="primary",
            icon=":material/play_arrow:",
            disabled=not (resume or job.available),
            width="stretch",
        ):
            st.session_state["label_job_id"] = job.job_id
            st.session_state.pop("label_paused", None)
            st.switch_page("pages/label.py", query_params={"job": str(job.job_id)})

if st.button("Refresh", key="portal_refresh", icon=":material/refresh:"):
    st.rerun()
