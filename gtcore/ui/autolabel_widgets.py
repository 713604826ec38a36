"""Automated data labeling in the pages: the Create job switch (with the rule, the reason when it is not available,
what will happen, and the model URI field), and the job status panel: the loop's phase (and, plainly, why it went on
with people only), one row per iteration (sent to people, human labels it trained on, threshold and the validation
metric it was chosen on, machine-labeled, training and inference seconds), and human vs machine labels over time."""

from __future__ import annotations

from datetime import UTC, datetime

import altair as alt
import pandas as pd
import streamlit as st

from gtcore.autolabel.status import LoopStatus, loop_status
from gtcore.context import Context
from gtcore.core import tasktypes
from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.core.textsafe import md_escape
from gtcore.jobform import auto_labeling as autoform
from gtcore.ui import jobform_state as fs
from gtcore.ui.errors import show_error

PHASES = {
    "new": "starting: the first objects go to people shortly",
    "probe": "people are labeling the probe batch (10 random objects)",
    "labeling": "people are labeling the training batch and the validation set",
    "loop": "the model labels what it is sure of; people label the most uncertain rest",
    "human-only": "people label everything: the model could not be used",
    "done": "ended",
}


def autolabel_ui(ctx: Context, actor: Actor, job_id: int) -> None:
    try:
        status = loop_status(ctx, actor, job_id)
    except GTError as exc:
        show_error(exc)
        return
    if not status.enabled:
        return
    st.subheader("Automated data labeling")
    st.caption(f"Phase: {PHASES.get(status.phase, status.phase)}.")
    if status.initial_model_uri:
        st.caption(f"Started from the model {md_escape(status.initial_model_uri)}.")
    if status.error:
        st.warning(
            f"Automated data labeling stopped: {md_escape(status.error)}. The job goes on with people only; no "
            "human answer was lost.",
            icon=":material/warning:",
        )
    _iterations_ui(status)
    _chart_ui(status)


def _iterations_ui(status: LoopStatus) -> None:
    rows = []
    for it in status.iterations:
        metric = "" if it.metric is None else f"{it.metric_name} {it.metric:.3f} on {it.validation_count}"
        rows.append(
            {
                "Iteration": it.number,
                "Stage": it.stage,
                "Sent to people": it.released,
                "Trained on (human labels)": it.human_labeled,
                "Threshold": "none reached the target"
                if it.threshold is None and it.training_seconds
                else it.threshold,
                "Validation": metric,
                "Machine-labeled": it.machine_labeled,
                "Training s": None if it.training_seconds is None else round(it.training_seconds, 2),
                "Inference s": None if it.inference_seconds is None else round(it.inference_seconds, 2),
                "Problem": it.error or "",
            }
        )
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    for it in status.iterations:
        if it.error and it.error != status.error:
            st.caption(f"Iteration {it.number}: {md_escape(it.error)} (no machine labels this iteration).")


def _chart_ui(status: LoopStatus) -> None:
    st.markdown("**Human vs machine labels over time**")
    if not status.timeline:
        st.caption("Nothing labeled yet.")
        return
    times = [datetime.fromtimestamp(t, tz=UTC) for t, _, _ in status.timeline]
    frame = pd.concat(
        [
            pd.DataFrame({"Time (UTC)": times, "Objects": [h for _, h, _ in status.timeline], "By": "people"}),
            pd.DataFrame({"Time (UTC)": times, "Objects": [m for _, _, m in status.timeline], "By": "model"}),
        ]
    )
    chart = (
        alt.Chart(frame)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("Time (UTC):T", scale=alt.Scale(type="utc")),
            y=alt.Y("Objects:Q", title="Objects labeled"),
            color=alt.Color("By:N", scale=alt.Scale(domain=["people", "model"], range=["#1f77b4", "#ff7f0e"])),
            tooltip=["Time (UTC):T", "By:N", "Objects:Q"],
        )
    )
    st.altair_chart(chart, width="stretch")


def auto_labeling_ui(object_count: int | None, least: int, max_concurrent: int) -> bool:
    """The switch (disabled with the reason when not available), the rule, what will happen, the model URI field;
    returns whether it may be on."""
    ok, reason = autoform.auto_labeling(fs.current_task_type(), object_count, least)
    st.caption(
        "Rule (Ground Truth's): single-label image classification, bounding-box and semantic-segmentation jobs "
        f"of at least {least:,} objects. A model trained on your team's labels, on this server's CPU, labels what "
        "it is sure of."
    )
    if not tasktypes.get(fs.current_task_type()).supports_auto_labeling:
        st.caption(reason[0].upper() + reason[1:] + ".")
        return False
    st.toggle("Enable automated data labeling", key="cj_auto", disabled=not ok, help=reason)
    st.caption(("Available: " if ok else "Not available: ") + reason + ".")
    if ok and fs.ss().get("cj_auto") and object_count is not None:
        st.info(autoform.auto_labeling_plan(object_count, max_concurrent), icon=":material/smart_toy:")
        st.text_input(
            "Start from a model (optional)",
            key="cj_model_uri",
            placeholder="s3://bucket/models/team.onnx or an earlier job's FinalActiveLearningModelArn",
            help="An ONNX file (classifier, feature extractor or detector: see the README's contract) or the "
            "final model of an earlier job of this product (semantic segmentation: only the final model of an "
            "earlier semantic-segmentation job). A model that cannot be used is reported on the "
            "job status page and people label everything.",
        )
    return ok
