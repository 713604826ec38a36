"""Automated data labeling in the pages: the Create job switch (with the rule, the reason when it is not available,
what will happen, and the model URI field), the job status panel: the loop's phase (and, plainly, why it went on
with people only), one row per round (sent to people, human labels it trained on, the validation estimate, its
95 % lower bound, the threshold, the metric on the round's fresh human-checked sample, the threshold used,
machine-labeled, seconds), human vs machine labels over time; and the worker's "more tasks are being prepared"."""

from __future__ import annotations

from datetime import UTC, datetime

import altair as alt
import pandas as pd
import streamlit as st

from gtcore.autolabel.status import LoopStatus, loop_status, preparing_more
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
    "loop": "rounds: people label a batch while the next model trains; the model labels what it is sure of",
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


def _num(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _iterations_ui(status: LoopStatus) -> None:
    """One row per round; every cell a string (no "None"), narrow columns with the details in the help."""
    rows = []
    for it in status.iterations:
        metric = it.metric_name or ""
        checked = ""
        if it.check_count:
            checked = f"{_num(it.check_metric)} on {it.check_count}"
        elif it.finished_at is not None and it.trained and not it.error:
            checked = "none at the threshold"
        rows.append(
            {
                "Round": it.number,
                "Stage": it.stage,
                "To people": it.released,
                "Trained on": "" if it.human_labeled is None else str(it.human_labeled),
                "Estimate": "" if it.metric is None else f"{metric} {_num(it.metric)}",
                "Bound (95 %)": _num(it.bound),
                "Threshold": _num(it.validation_threshold) if it.trained else "",
                "Checked": checked,
                "Used": "" if it.finished_at is None or not it.trained else _num(it.threshold) or "none",
                "Machine": "" if it.machine_labeled is None else str(it.machine_labeled),
                "Model": it.model,
                "Train/infer s": ""
                if it.training_seconds is None
                else f"{it.training_seconds:.1f} / {_num(it.inference_seconds, 1) or '-'}",
                "Note": it.error or it.decision,
            }
        )
    if rows:
        help_ = {
            "Estimate": "the machine labels' metric on the validation objects at or above the threshold",
            "Bound (95 %)": "its one-sided 95 % lower confidence bound: the threshold is the lowest where it "
            "reaches the target",
            "Threshold": "chosen on the validation set",
            "Model": "the model the round chose: of those trained (for classification the linear head on pooled "
            "embeddings and the map head on block-10 maps), the one covering most of the validation set at the bound",
            "Checked": "the model's metric on the round's fresh human labels (the batch people labeled while it "
            "trained, partly drawn at random from the objects left) at or above the threshold, and how many",
            "Used": "the threshold the round machine-labeled at after that check (raised, kept, or none)",
        }
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            width="stretch",
            column_config={k: st.column_config.TextColumn(k, help=v) for k, v in help_.items()}
            | {"Note": st.column_config.TextColumn("Note", width="large")},
        )
    for it in status.iterations:
        if it.error and it.error != status.error:
            st.caption(f"Round {it.number}: {md_escape(it.error)} (no machine labels this round).")


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


PREPARING = (
    "More tasks are being prepared: the model is learning from the labels so far and choosing what people label "
    "next. This page checks again by itself every few seconds."
)
REFRESH_SECONDS = 5


def preparing_ui(ctx: Context, job_id: int) -> bool:
    """For a worker with nothing to claim in a job with automated data labeling whose next batch is not sent yet:
    say so and check again every ``REFRESH_SECONDS`` (the whole page reruns once tasks are out or the job ended).
    False (nothing shown) when the job is not preparing a batch."""
    if not preparing_more(ctx, job_id):
        return False
    st.info(PREPARING, icon=":material/hourglass_top:")

    @st.fragment(run_every=REFRESH_SECONDS)
    def _watch() -> None:
        if not preparing_more(ctx, job_id):
            st.rerun()

    _watch()
    return True


def preparing_caption(ctx: Context, job_id: int) -> None:
    """The portal's line under a job whose next automated-labeling batch is being prepared."""
    if preparing_more(ctx, job_id):
        st.caption("More tasks are being prepared for this job: refresh in a moment.")
