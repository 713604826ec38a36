"""Jobs (admins; auditors read-only): every labeling job with status, counters, progress, team and created time,
filtered by status and name; a job's spec, counters and output location; Stop, Clone and Chain. No delete.
"""

from __future__ import annotations

import streamlit as st

from gtcore.core.access import ADMIN, AUDITOR
from gtcore.core.errors import GTError
from gtcore.jobs import api as jobs
from gtcore.ui import jobform_state as fs
from gtcore.ui import jobs_widgets as jw
from gtcore.ui.auth import require_actor
from gtcore.ui.errors import show_error
from gtcore.ui.label_picker import md_escape
from gtcore.ui.resources import get_context

actor = require_actor(ADMIN, AUDITOR)
ctx = get_context()
read_only = not actor.has(ADMIN)
st.title("Labeling jobs")
if read_only:
    st.caption("Read-only: auditors see every job; stopping, cloning and chaining need the admin role.")
elif st.button("Create a labeling job", key="jobs_create", icon=":material/add_box:"):
    fs.go("pages/create_job.py", "Create job")
flash = st.session_state.pop(jw.FLASH, None)
if flash:
    st.success(md_escape(str(flash)), icon=":material/check_circle:")

c0, c1 = st.columns([2, 1])
name = c0.text_input("Name contains", key="jobs_name", max_chars=63, help="Letters, digits and hyphens; any case.")
status = c1.selectbox("Status", ["All", *jobs.STATUSES], key="jobs_status_filter")
try:
    listed = jobs.list_jobs(
        ctx,
        actor,
        name_contains=name.strip() or None,
        status_equals=None if status == "All" else status,
        sort_order="Descending",
    )
except GTError as exc:
    show_error(exc)
    st.stop()
if not listed:
    st.info("No labeling job matches." if name or status != "All" else "No labeling job yet.", icon=":material/inbox:")
    st.stop()
jw.table_ui(listed)
chosen = jw.pick_ui(listed)
if chosen is None:
    st.stop()
jw.detail_ui(ctx, actor, chosen)
if not read_only:
    jw.actions_ui(ctx, actor, chosen)
jw.status_link_ui(chosen)
