"""The Job status page's parts: the job picker, the header (status, progress, time running), LabelCounters,
the per-worker table, the chart of tasks completed over time, the output manifests (download, open in the
manifest viewer) and the admin's Stop with a confirmation.

Widget keys are prefixed ``status_``. The job comes from ``st.session_state["job_status_job_id"]`` (set by the
Jobs page) or the query parameter ``?job=<name>``; the selection is written back to the query parameter so the
address can be shared. The viewer is opened on a manifest through its own session key
(``gtcore.ui.viewer_widgets.SOURCE``). User text (names, e-mails, URIs) is shown as escaped markdown, plain
text, code or table cells, never as HTML.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, datetime

import altair as alt
import pandas as pd
import streamlit as st

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.core.textsafe import md_escape
from gtcore.jobs import api as jobs
from gtcore.jobs import progress as jobstats
from gtcore.jobs.actions import FINAL
from gtcore.jobs.describe import JobSummary
from gtcore.jobs.presentation import STOPPABLE, type_title, when
from gtcore.jobs.progress import JobProgress, OutputFiles
from gtcore.ui import jobform_state as fs
from gtcore.ui import viewer_widgets as vw
from gtcore.ui.errors import show_error
from gtcore.ui.jobs_widgets import confirm_stop_ui

PICK = "status_job"
CONFIRM_STOP = "status_confirm_stop"
FLASH = "status_flash"
QUERY_PARAM = "job"
VIEWER_PAGE = "pages/viewer.py"


def _one_line(text: str) -> str:
    return md_escape(text, single_line=True)


def _preselect(listed: list[JobSummary]) -> bool:
    """Put the job another page asked for (session key, else ``?job=``) into the picker's state; True when
    that replaced the choice."""
    by_id = {s.job_id: s.name for s in listed}
    by_name = {s.name.lower(): s.name for s in listed}
    wanted = st.session_state.pop(fs.STATUS_KEY, None)
    name = by_id.get(wanted) if isinstance(wanted, int) else None
    if name is None and PICK not in st.session_state:
        asked = st.query_params.get(QUERY_PARAM)
        name = by_name.get(asked.lower()) if isinstance(asked, str) else None
        if asked and name is None:
            st.warning(f"No labeling job named {_one_line(asked)}: pick one below.", icon=":material/search_off:")
    if name is not None:
        st.session_state[PICK] = name
        return True
    if st.session_state.get(PICK) not in by_name.values():
        st.session_state[PICK] = listed[0].name
        return True
    return False


def pick_job_ui(ctx: Context, actor: Actor) -> JobSummary | None:
    """The job to show, from a selectbox of every job (newest first); None when there is none."""
    try:
        listed = jobs.list_jobs(ctx, actor, sort_order="Descending")
    except GTError as exc:
        show_error(exc)
        return None
    if not listed:
        st.info("No labeling job yet.", icon=":material/inbox:")
        return None
    forced = _preselect(listed)
    status = {s.name: s.status for s in listed}
    # the browser keeps the shown text of a selectbox whose key stays, so "(InProgress)" outlived the job's
    # completion: the widget's key changes with the statuses, the choice itself lives under PICK
    widget = f"{PICK}::{zlib.crc32(repr(sorted(status.items())).encode())}"
    if forced or widget not in st.session_state:
        st.session_state[widget] = st.session_state[PICK]
    name = st.selectbox("Job", [s.name for s in listed], key=widget, format_func=lambda n: f"{n} ({status[n]})")
    st.session_state[PICK] = name
    if st.query_params.get(QUERY_PARAM) != name:
        st.query_params[QUERY_PARAM] = name
    return next((s for s in listed if s.name == name), None)


def header_ui(s: JobSummary, p: JobProgress) -> None:
    """Status, progress bar and time running (the job's summary and progress come from gtcore)."""
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(_one_line(str(flash)), icon=":material/check_circle:")
    st.subheader(_one_line(f"{s.name}: {p.status}"))
    done = p.total_objects - p.objects["open"]
    pct = 100 * p.fraction_done
    st.progress(p.fraction_done, text=f"{done:,} of {p.total_objects:,} objects finished ({pct:.0f}%)")
    ended = s.ended_at if s.status in FINAL else None
    running = jobstats.duration_text(jobstats.running_seconds(s.created_at, ended))
    verb = "Ran for" if ended is not None else "Running for"
    st.text(
        f"{verb} {running} (created {when(s.created_at)}{', ended ' + when(ended) if ended else ''})\n"
        f"Task type: {type_title(s.task_type)}    Label attribute: {s.label_attribute}    "
        f"Team: {s.team_name or '-'}    Workers per object: {p.workers_per_object}"
    )
    if s.failure_reason:
        st.error(_one_line(f"Failure reason: {s.failure_reason}"), icon=":material/error:")


def counters_ui(s: JobSummary, p: JobProgress) -> None:
    """DescribeLabelingJob's LabelCounters, plus what the queue knows (answers, tasks in progress)."""
    c = p.label_counters
    cols = st.columns(5)
    shown = [
        ("Total labeled", c["TotalLabeled"]),
        ("Human labeled", c["HumanLabeled"]),
        ("Machine labeled", c["MachineLabeled"]),
        ("Failed", c["FailedNonRetryableError"]),
        ("Unlabeled", c["Unlabeled"]),
    ]
    for col, (label, value) in zip(cols, shown, strict=True):
        col.metric(label, f"{value:,}")
    more = st.columns(3)
    more[0].metric("Answers submitted", f"{p.answers_submitted:,} of {p.answers_needed:,}")
    more[1].metric("Tasks in progress", f"{p.in_progress:,}")
    more[2].metric("Already labeled (chained)", f"{s.already_labeled:,}")


def workers_ui(p: JobProgress) -> None:
    st.markdown("**Workers**")
    if not p.workers:
        st.caption("No worker has taken a task of this job yet.")
        return
    rows = [
        {
            "Worker": w.email,
            "Worker ID": w.worker_id,
            "Tasks submitted": w.submitted,
            "Declined": w.declined,
            "Median seconds per task": None if w.median_seconds is None else round(w.median_seconds, 1),
        }
        for w in p.workers
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def timeline_ui(p: JobProgress) -> None:
    """A line of tasks completed (answers submitted) over time."""
    st.markdown("**Tasks completed over time**")
    points = jobstats.completed_over_time(p.submit_times)
    if not points:
        st.caption("No task completed yet.")
        return
    frame = pd.DataFrame(
        {
            "Time (UTC)": [datetime.fromtimestamp(t, tz=UTC) for t, _ in points],
            "Tasks completed": [n for _, n in points],
        }
    )
    span = points[-1][0] - points[0][0]
    fmt = "%H:%M:%S" if span < 86_400 else "%Y-%m-%d %H:%M"
    chart = (
        alt.Chart(frame)
        .mark_line(point=len(points) <= 60, interpolate="step-after")
        .encode(
            x=alt.X("Time (UTC):T", title="Time (UTC)", scale=alt.Scale(type="utc"), axis=alt.Axis(format=fmt)),
            y=alt.Y("Tasks completed:Q", title="Tasks completed"),
            tooltip=["Time (UTC):T", "Tasks completed:Q"],
        )
    )
    st.altair_chart(chart, width="stretch")


def _download(ctx: Context, actor: Actor, job_id: int, final: bool) -> Callable[[], bytes]:
    return lambda: jobstats.read_output(ctx, actor, job_id, final=final)


def open_in_viewer(uri: str) -> None:
    """Hand ``uri`` to the manifest viewer (its source key) and switch to it."""
    st.session_state[vw.SOURCE] = {"kind": "uri", "uri": uri}
    vw.reset_view()
    fs.go(VIEWER_PAGE, "Manifest viewer")


def outputs_ui(ctx: Context, actor: Actor, s: JobSummary, files: OutputFiles) -> None:
    """Where the output manifests are, a download of each that exists, and a button to open it in the viewer."""
    st.markdown("**Output**")
    rows = [("Output manifest", files.final_uri, files.final_ready, True)]
    if s.status not in FINAL or files.intermediate_ready:
        rows.append(("Intermediate manifest (every line, updated while the job runs)", files.intermediate_uri,
                     files.intermediate_ready, False))  # fmt: skip
    for title, uri, ready, final in rows:
        st.caption(_one_line(title + ("" if ready else ": not written yet")))
        st.code(uri, language=None)
        if ready:
            st.download_button(
                "Download",
                data=_download(ctx, actor, s.job_id, final),
                file_name="output.manifest",
                mime="application/jsonl",
                key=f"status_download_{'final' if final else 'intermediate'}",
                icon=":material/download:",
                on_click="ignore",
            )
    best = files.best_uri
    if st.button("Open in the manifest viewer", key="status_view", icon=":material/image_search:",
                 disabled=best is None or not fs.page_exists(VIEWER_PAGE),
                 help="Nothing labeled and consolidated yet." if best is None else md_escape(best)):  # fmt: skip
        assert best is not None
        open_in_viewer(best)


def stop_ui(ctx: Context, actor: Actor, s: JobSummary) -> None:
    """Stop (admins; asks first). The answers so far go to the output manifest; a stopped job never restarts."""
    if s.status not in STOPPABLE:
        return
    if st.button("Stop the job", key="status_stop", icon=":material/stop_circle:",
                 help="Asks first. Answers so far go to the output manifest."):  # fmt: skip
        st.session_state[CONFIRM_STOP] = s.name
    confirm_stop_ui(ctx, actor, s, confirm_key=CONFIRM_STOP, flash_key=FLASH, key_prefix="status", fmt=_one_line)
