"""The background-work panel of the home and job status pages: pending / running / failed items (with the reason
and, for admins, a Retry button) and how far the output files lag behind the answers. Text only, no HTML."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from gtcore.context import Context
from gtcore.core.access import ADMIN, Actor
from gtcore.core.errors import GTError
from gtcore.core.textsafe import md_escape
from gtcore.ui.errors import show_error
from gtcore.work import status as workstatus


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "none"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


STALE_DUE_SECONDS = 30.0


def queue_ui(ctx: Context, actor: Actor, job_id: int | None = None, key: str = "work") -> None:
    try:
        q = workstatus.queue_status(ctx, actor, job_id)
    except GTError as exc:
        show_error(exc)
        return
    st.subheader("Background work")
    st.text(
        f"Pending: {q.pending} ({q.due} due now) · Running: {q.running} · Failed: {q.failed} · "
        f"Answers waiting for their worker-response file: {q.answers_without_file}"
    )
    lag = f"Output files lag behind the answers by {_ago(q.oldest_unwritten_seconds)} (oldest unwritten answer)"
    if q.answers_without_file == 0:
        lag = "Every completed object's worker-response file is written."
    if q.finish_pending:
        lag += " Finishing (consolidation and output.manifest) is queued or running."
    st.caption(lag)
    waited = q.oldest_due_seconds or 0.0
    if q.due and not q.running and waited > STALE_DUE_SECONDS:  # a live worker takes due work within a second
        st.caption(
            f"Work has been due for {_ago(waited)} and no worker has taken it: start `gtcore worker` "
            "(or the app's embedded worker)."
        )
    if not q.failed_items:
        return
    st.warning(f"{q.failed} background work item(s) failed after their retries.", icon=":material/error:")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Item": f.id,
                    "Kind": f.kind,
                    "Job": f.job_name or "",
                    "Attempts": f.attempts,
                    "Reason": f.reason,
                    "Failed at (UTC)": datetime.fromtimestamp(f.failed_at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S"),
                }
                for f in q.failed_items
            ]
        ),  # fmt: skip
        hide_index=True,
        key=f"{key}_failed",
    )
    if not actor.has(ADMIN):
        return
    options = {f"{f.id}: {f.kind} {f.job_name or ''}".strip(): f for f in q.failed_items}
    pick = st.selectbox("Failed item", list(options), key=f"{key}_pick")
    if pick is None:
        return
    chosen = options[pick]
    with st.expander("Recorded error"):
        st.code(chosen.detail, language=None)
    if st.button("Retry", key=f"{key}_retry", icon=":material/replay:"):
        try:
            workstatus.retry(ctx, actor, chosen.id)
        except GTError as exc:
            show_error(exc)
            return
        st.success(f"Item {chosen.id} ({md_escape(chosen.kind)}) will run again.")
        st.rerun()
