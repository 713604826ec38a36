"""The Job status page's worker-quality table (issue 17): each worker's estimated accuracy, most frequent
confusion, likely spammer / adversary flags and score on gold objects, from ``gtcore.jobs.quality``.

The model is fitted in the request only for jobs with at most ``MAX_PAGE_ANSWERS`` submitted answers (well under
a second); bigger jobs get the ``gtcore worker-quality`` command to run instead, stated plainly. Widget keys are
prefixed ``quality_``. User text (e-mails, label names) goes into table cells or escaped markdown only.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.core.textsafe import md_escape
from gtcore.jobs.quality import job_quality
from gtcore.ui.errors import show_error

MAX_PAGE_ANSWERS = 30_000


def quality_ui(ctx: Context, actor: Actor, job_id: int, job_name: str, answers_submitted: int) -> None:
    st.markdown("**Worker quality** (estimated from the consolidation model)")
    if answers_submitted > MAX_PAGE_ANSWERS:
        st.caption(
            f"Not estimated on this page for more than {MAX_PAGE_ANSWERS:,} answers (this job has "
            f"{answers_submitted:,}); run this on the server instead:"
        )
        st.code(f"gtcore worker-quality --labeling-job-name {job_name}", language="bash")
        return
    try:
        q = job_quality(ctx, actor, job_id=job_id)
    except GTError as exc:
        show_error(exc)
        return
    if not q.supported or q.reason:
        st.caption(md_escape(q.reason or "Not available for this job.", single_line=True))
        if not q.supported:
            return
    if not q.workers:
        st.caption("No answers to learn from yet.")
        return
    gold = q.gold_objects > 0
    rows = []
    for w in q.workers:
        row = {
            "Worker": q.emails.get(w.worker, ""),
            "Worker ID": w.worker,
            "Answers": w.answers,
            "Estimated accuracy": f"{100 * w.accuracy:.0f}%",
            "Most frequent confusion": (
                "" if w.confusion is None else f"{w.confusion[0]} → {w.confusion[1]} ({100 * w.confusion[2]:.0f}%)"
            ),
            "Flags": ", ".join(w.flags),
        }
        if gold:
            row["Gold score"] = f"{w.gold_right} of {w.gold_answered}" if w.gold_answered else "-"
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    note = (
        "Accuracy: the model's probability that the worker gives the true class. Most frequent confusion: true "
        "class → the class he gave, as a share of his answers. Flags need 10+ answers: a likely spammer's answers "
        "do not depend on the image; a likely adversary's do, but name a wrong class."
    )
    if gold:
        note += f" Gold score: right answers on the job's {q.gold_objects:,} gold objects (never shown to workers)."
    st.caption(note)
