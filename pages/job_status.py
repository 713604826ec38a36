"""Job status (admins; read-only for auditors): a job's status, LabelCounters, progress and time running;
each worker's submitted and declined tasks and median seconds per task; tasks completed over time; the output
manifests (download, open in the manifest viewer); the job's background work (pending, running, failed with the
reason and a Retry for admins, how far the output files lag); and, for admins, Stop with a confirmation.

The job is picked from every job, preselected from ``st.session_state["job_status_job_id"]`` (the Jobs page)
or the query parameter ``?job=<name>``.
"""

from __future__ import annotations

import streamlit as st

from gtcore.core.access import ADMIN, AUDITOR
from gtcore.core.errors import GTError
from gtcore.jobs import progress as jobstats
from gtcore.ui import status_widgets as sw
from gtcore.ui.auth import require_actor
from gtcore.ui.errors import show_error
from gtcore.ui.resources import get_context
from gtcore.ui.work_widgets import queue_ui

actor = require_actor(ADMIN, AUDITOR)
ctx = get_context()
read_only = not actor.has(ADMIN)
st.title("Job status")
if read_only:
    st.caption("Read-only: auditors see every job's progress and output; stopping a job needs the admin role.")

summary = sw.pick_job_ui(ctx, actor)
if summary is None:
    st.stop()
try:
    progress = jobstats.job_progress(ctx, actor, summary.job_id)
    files = jobstats.output_files(ctx, actor, summary.job_id)
except GTError as exc:
    show_error(exc)
    st.stop()

sw.header_ui(summary, progress)
st.button("Refresh", key="status_refresh", icon=":material/refresh:", type="tertiary")
sw.counters_ui(summary, progress)
sw.workers_ui(progress)
sw.timeline_ui(progress)
sw.outputs_ui(ctx, actor, summary, files)
queue_ui(ctx, actor, summary.job_id, key="status_work")
if not read_only:
    sw.stop_ui(ctx, actor, summary)
