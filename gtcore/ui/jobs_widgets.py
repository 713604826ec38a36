"""The Jobs page's parts: the table, a job's detail, and the admin actions (Stop with a confirmation, Clone,
Chain) plus the link to the Job status page. Auditors get no action button (and gtcore refuses them anyway).

Clone and Chain open the Create job page prefilled (``gtcore.ui.jobform_state.PREFILL``); the Job status
page receives the job in ``st.session_state["job_status_job_id"]``.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.core.textsafe import md_escape
from gtcore.jobs import api as jobs
from gtcore.jobs import presentation as jobsview
from gtcore.jobs.describe import JobSummary
from gtcore.ui import jobform_state as fs
from gtcore.ui.errors import show_error

CONFIRM_STOP = "jobs_confirm_stop"
FLASH = "jobs_flash"


def table_ui(listed: list[JobSummary], *, key: str = "jobs_table") -> None:
    """The jobs table of the Jobs and Home pages (rows from ``gtcore.jobs.presentation.table_rows``)."""
    st.dataframe(
        pd.DataFrame(jobsview.table_rows(listed)),
        hide_index=True,
        width="stretch",
        key=key,
        column_config={
            "Progress": st.column_config.ProgressColumn("Progress", min_value=0, max_value=100, format="%.0f%%")
        },
    )


def pick_ui(listed: list[JobSummary]) -> JobSummary | None:
    """The job whose detail is shown (preselected when another page named one)."""
    names = [s.name for s in listed]
    wanted = st.session_state.pop(fs.JOBS_SELECTED, None)
    if wanted in names:
        st.session_state["jobs_pick"] = wanted
    elif st.session_state.get("jobs_pick") not in names:
        st.session_state["jobs_pick"] = names[0] if names else None
    name = st.selectbox("Job", names, key="jobs_pick", help="Its spec, counters and actions are shown below.")
    return next((s for s in listed if s.name == name), None)


def detail_ui(ctx: Context, actor: Actor, s: JobSummary) -> None:
    st.subheader(md_escape(f"Job {s.name}"))
    st.progress(s.progress, text=jobsview.status_line(s))
    c = s.counters
    cols = st.columns(5)
    for col, (label, value) in zip(
        cols,
        (
            ("Objects", s.total_objects),
            ("Labeled", c.total_labeled),
            ("Failed", c.failed_non_retryable_error),
            ("Unlabeled", c.unlabeled),
            ("Already labeled", s.already_labeled),
        ),
        strict=True,
    ):
        col.metric(label, f"{value:,}")
    st.text(
        "\n".join(
            [
                f"Task type: {jobsview.type_title(s.task_type)}    Label attribute: {s.label_attribute}",
                f"Team: {s.team_name or '-'}    Workers per object: {s.workers_per_object}",
                f"Created: {jobsview.when(s.created_at)}    Last change: {jobsview.when(s.updated_at)}",
                f"Input manifest: {s.input_manifest_uri}",
                f"Output folder: {s.output_manifest_uri.rsplit('/manifests/', 1)[0]}/",
                f"Output manifest: {s.output_manifest_uri}",
            ]
            + ([f"Failure reason: {s.failure_reason}"] if s.failure_reason else [])
        )
    )
    try:
        described = jobs.describe_labeling_job(ctx, actor, s.name)
    except GTError as exc:
        show_error(exc)
        return
    with st.expander("Spec (DescribeLabelingJob)", icon=":material/data_object:"):
        st.json(jobsview.json_safe(described), expanded=2)


def _prefill(origin: str, name: str) -> None:
    st.session_state[fs.PREFILL] = {"origin": origin, "job": name}
    fs.go("pages/create_job.py", "Create job")


def status_link_ui(s: JobSummary) -> None:
    if not fs.page_exists(fs.STATUS_PAGE):
        return
    if st.button("Open the Job status page", key="jobs_status", icon=":material/monitoring:"):
        st.session_state[fs.STATUS_KEY] = s.job_id
        fs.go(fs.STATUS_PAGE, "Job status")


def actions_ui(ctx: Context, actor: Actor, s: JobSummary) -> None:
    """Stop (asks first), Clone and Chain. There is no delete: jobs are kept for good."""
    allowed = jobsview.actions_for(s.status)
    c0, c1, c2 = st.columns(3)
    if c0.button(
        "Stop",
        key="jobs_stop",
        icon=":material/stop_circle:",
        disabled=not allowed.stop,
        help=allowed.stop_reason or "Asks first. Answers so far go to the output manifest.",
    ):
        st.session_state[CONFIRM_STOP] = s.name
    if c1.button(
        "Clone",
        key="jobs_clone",
        icon=":material/content_copy:",
        help="A new job with this job's setup and input manifest (you give it a new name).",
    ):
        _prefill("clone", s.name)
    if c2.button(
        "Chain",
        key="jobs_chain",
        icon=":material/link:",
        disabled=not allowed.chain,
        help=allowed.chain_reason or "A new job whose input is this job's output manifest.",
    ):
        _prefill("chain", s.name)
    confirm_stop_ui(ctx, actor, s, confirm_key=CONFIRM_STOP, flash_key=FLASH, key_prefix="jobs")


def confirm_stop_ui(
    ctx: Context,
    actor: Actor,
    s: JobSummary,
    *,
    confirm_key: str,
    flash_key: str,
    key_prefix: str,
    fmt: Callable[[str], str] = md_escape,
) -> None:
    """The "are you sure?" step of Stop, shared by the Jobs and Job status pages; stops through gtcore."""
    if st.session_state.get(confirm_key) != s.name:
        return
    st.warning(
        fmt(
            f"Stop {s.name}? A stopped job cannot be restarted (chain a new job to carry on); every answer "
            "submitted so far goes to the output manifest."
        ),
        icon=":material/warning:",
    )
    yes, no = st.columns(2)
    if no.button("Cancel", key=f"{key_prefix}_stop_no"):
        st.session_state.pop(confirm_key, None)
        st.rerun()
    if yes.button("Yes, stop the job", key=f"{key_prefix}_stop_yes", type="primary"):
        st.session_state.pop(confirm_key, None)
        try:
            stopped = jobs.stop_labeling_job(ctx, actor, s.name)
        except GTError as exc:
            show_error(exc)
            return
        where = stopped.output_manifest_uri
        st.session_state[flash_key] = (
            f"Stopping {stopped.name}: the background workers write the answered objects' files and its output "
            f"manifest at {where}, then it is Stopped."
        )
        st.rerun()
