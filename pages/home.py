"""Home: where data and the database live, whether the stores answer, and the labeling jobs (newest first).

Admins and auditors see the environment, the background work queue (admins may retry failed items) and every
job; a worker sees only the jobs of his teams.
Everything is rendered as text or table cells (no HTML).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gtcore.core.access import ADMIN, AUDITOR
from gtcore.core.errors import GTError
from gtcore.jobs import api as jobs
from gtcore.ui.auth import require_actor
from gtcore.ui.errors import show_error
from gtcore.ui.jobs_widgets import table_ui as jobs_table_ui
from gtcore.ui.resources import get_context
from gtcore.ui.work_widgets import queue_ui

actor = require_actor()
ctx = get_context()
st.title("Home")

if actor.has(ADMIN) or actor.has(AUDITOR):
    settings = ctx.settings
    st.subheader("Where things live")
    st.text(f"Data home: {settings.home}")
    st.text("Local folders allowed: " + ", ".join(str(p) for p in settings.local_roots))
    st.text(f"S3 endpoint: {settings.s3_endpoint_url or 'AWS default (boto3 configuration)'}")
    if settings.allowed_buckets:
        st.text("Allowed buckets: " + ", ".join(sorted(settings.allowed_buckets)))
    try:
        st.text(f"Database: {ctx.db.ping()}")
    except GTError as exc:
        show_error(exc, prefix="Database")
    with st.spinner("Checking the storage backends..."):
        backends = ctx.storage.ping()
    st.dataframe(
        pd.DataFrame([{"Backend": b.name, "Answers": "yes" if b.ok else "NO", "Detail": b.detail} for b in backends]),
        hide_index=True,
        key="home_backends",
    )
    if not all(b.ok for b in backends):
        st.warning("A storage backend does not answer: jobs reading from it will fail.", icon=":material/warning:")
    queue_ui(ctx, actor, key="home_work")

st.subheader("Labeling jobs")
try:
    listed = jobs.list_jobs(ctx, actor, sort_by="CreationTime", sort_order="Descending")
except GTError as exc:
    show_error(exc)
    st.stop()

if not listed:
    hint = " Create one on the Create job page." if actor.has(ADMIN) else ""
    st.info(f"No labeling jobs yet.{hint}", icon=":material/info:")
    st.stop()

jobs_table_ui(listed, key="home_jobs")
st.caption(f"{len(listed)} job(s), newest first.")
