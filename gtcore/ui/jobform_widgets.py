"""The Create job page's sections, one ``*_ui`` function each (state: ``gtcore.ui.jobform_state``, callbacks
that act: ``gtcore.ui.jobform_actions``; the data sections: ``gtcore.ui.jobform_data_widgets``; the labels and
instructions sections: ``gtcore.ui.jobform_content``).

Every field has help text and a default a new user can keep; user text (labels, captions, file names,
manifest lines) is shown with ``st.text`` / ``st.code`` / ``st.caption`` of escaped text, and the team
lead's instructions through ``gtcore.core.textsafe.safe_markdown``: no HTML from a user reaches the page.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from gtcore.context import Context
from gtcore.core import tasktypes
from gtcore.core.access import Actor
from gtcore.core.errors import GTError
from gtcore.jobform import model as jobform
from gtcore.jobform.create import chain_task_types
from gtcore.jobs import api as jobs
from gtcore.ui import jobform_actions as fa
from gtcore.ui import jobform_state as fs
from gtcore.ui.errors import show_error
from gtcore.ui.label_picker import md_escape

TYPE_TITLES = {t.name: t.title for t in tasktypes.TASK_TYPES.values()}


def flash() -> None:
    """Show (once) what a button callback reported."""
    error = fs.ss().pop(fs.FLASH_ERROR, None)
    if error is not None:
        show_error(error)
    info = fs.ss().pop(fs.FLASH_INFO, None)
    if info:
        st.info(md_escape(str(info)), icon=":material/info:")


def origin_ui() -> dict[str, Any]:
    """A banner when the form is a Clone or a Chain, with a way back to a new job."""
    o = fs.origin()
    if o["origin"] == "clone":
        st.info(
            f"Cloning {md_escape(o['job'])}: its setup and input manifest are filled in. Give the new job a name.",
            icon=":material/content_copy:",
        )
    elif o["origin"] == "chain":
        st.info(
            f"Chaining from {md_escape(o['job'])} ({md_escape(o['status'])}): the input is its output manifest, so "
            "earlier labels carry over. Give the new job a name.",
            icon=":material/link:",
        )
    if o["origin"] != "new":
        st.button("Start a new job instead", key="cj_reset", on_click=fs.reset, icon=":material/restart_alt:")
    return o


def _live(problems: list[str], ok_text: str) -> None:
    """Live check results; they quote what the user typed, so Markdown in it is escaped."""
    for message in problems:
        st.error(md_escape(message), icon=":material/error:")
    if not problems:
        st.caption(md_escape(ok_text))


def name_ui(ctx: Context, actor: Actor, o: dict[str, Any]) -> None:
    name = st.text_input(
        "Job name",
        key="cj_name",
        max_chars=63,
        placeholder="e.g. faces-2026-01",
        help="1-63 letters, digits and hyphens, not at either end. Unique (ignoring case) and "
        "kept for good: jobs are never deleted.",
    )
    found = jobform.name_problems(name) if name else []
    if (
        name
        and not found
        and any(j.name.lower() == name.lower() for j in jobs.list_jobs(ctx, actor, name_contains=name))
    ):
        found = [f"a labeling job named {name!r} already exists; pick another name"]
    _live(found, "The name is free." if name else "Required.")
    if o["origin"] == "chain":
        _chain_attribute_ui(name, o)
        return
    attr = st.text_input(
        "Label attribute name",
        key="cj_attr",
        max_chars=127,
        placeholder=name or "the job name",
        help="The key the labels get in the output manifest. Leave it blank to use the job name.",
    )
    task_type = fs.current_task_type()
    shown = jobform.JobForm(name=name, label_attribute=attr, task_type=task_type).attribute
    _live(
        jobform.attribute_problems(attr, job_name=name, task_type=task_type),
        f"Labels go under {shown!r}." if shown else "Defaults to the job name.",
    )
    if tasktypes.get(task_type).verifies:
        verify = st.text_input(
            "Attribute to verify",
            key="cj_verify_attr",
            max_chars=127,
            help="The label attribute of the input manifest whose labels workers judge (every line must have it).",
        )
        _live([] if verify.strip() else ["Required."], f"Workers judge the labels under {verify.strip()!r}.")


def _chain_attribute_ui(name: str, o: dict[str, Any]) -> None:
    targets = chain_task_types(str(o["task_type"]))
    masks = tasktypes.ADJUSTMENT_SEMANTIC_SEGMENTATION.name in targets
    what = "mask" if masks else "boxes"
    adjust = len(targets) > 1 and st.checkbox(
        f"Adjustment job (workers adjust the {what} of the previous job)",
        key="cj_adjust",
        on_change=fs.on_adjust_change,
        disabled=bool(fs.ss().get("cj_verify")),
        help="Creates an adjustment job; it needs a new label attribute.",
    )
    verify = len(targets) > 2 and st.checkbox(
        f"Verification job (workers judge the {what} of the previous job)",
        key="cj_verify",
        on_change=fs.on_verify_change,
        help="Workers see the earlier labels read-only and pick one of your verification labels (for example "
        "Correct / Incorrect), with an optional comment. The labels below become the verification labels.",
    )
    adjust = adjust or verify  # both need a new attribute
    same = not adjust and st.checkbox(
        f"Same label attribute ({md_escape(o['attribute'])}): label only the objects without it",
        key="cj_chain_same",
        help="Otherwise every object is labeled again under a new attribute, beside the earlier labels.",
    )
    if same:
        st.caption(
            md_escape(f"Labels go under {o['attribute']!r}; objects that already have it are not sent to workers.")
        )
        return
    attr = st.text_input(
        "New label attribute name",
        key="cj_attr",
        max_chars=127,
        placeholder=name or "the job name",
        help="Leave blank to use the new job's name.",
    )
    task_type = fs.current_task_type()
    shown = jobform.JobForm(name=name, label_attribute=attr, task_type=task_type).attribute
    _live(
        jobform.attribute_problems(
            attr, job_name=name, source_attribute=str(o["attribute"]), adjustment=adjust, task_type=task_type
        ),
        f"Labels go under {shown!r}." if shown else "Defaults to the job name.",
    )


def task_type_ui(o: dict[str, Any]) -> None:
    if o["origin"] == "chain":
        st.text(f"Task type: {TYPE_TITLES.get(fs.current_task_type(), fs.current_task_type())}")
        return
    options = [t.name for t in tasktypes.CREATABLE]
    if fs.ss().get("cj_task_type") not in options:
        options.append(str(fs.ss().get("cj_task_type")))
    st.radio(
        "Task type",
        options,
        format_func=TYPE_TITLES.get,
        key="cj_task_type",
        on_change=fa.on_type_change,
        help="Bounding box: workers draw labeled boxes. Classification (image or text): workers pick one label "
        "(single) or every label that applies (multi-label). Semantic segmentation: workers paint each pixel's "
        "label (the label attribute ends in -ref). Label verification: workers judge the boxes or mask an input "
        "manifest already holds, picking one of your verification labels. Named entity recognition: workers "
        "mark spans of the text with labels (the label file carries your instructions, as Ground Truth's).",
    )


def workers_ui(team_names: list[str]) -> None:
    c0, c1 = st.columns(2)
    c0.number_input(
        "Workers per dataset object",
        1,
        9,
        key="cj_workers",
        step=1,
        help="How many workers label each image (1-9); their answers are consolidated.",
    )
    c1.number_input(
        "Task time limit (minutes)",
        1,
        480,
        key="cj_time_min",
        step=1,
        help="How long a worker may hold one task (at most 8 hours).",
    )
    c0.number_input(
        "Task availability lifetime (hours)",
        1,
        720,
        key="cj_lifetime_h",
        step=1,
        help="How long tasks stay available to workers (at most 30 days).",
    )
    c1.number_input(
        "Maximum concurrent tasks",
        1,
        5000,
        key="cj_max_concurrent",
        step=1,
        help="How many objects are in the workers' queue at once (the console uses 1000).",
    )
    if not team_names:
        st.warning("No work team exists yet: create one on the Workforce page first.", icon=":material/group_off:")
    if fs.ss().get("cj_team") not in team_names:
        fs.ss()["cj_team"] = team_names[0] if team_names else None
    st.selectbox("Private work team", team_names, key="cj_team", help="Only members of this team get the tasks.")


def preview_ui(ctx: Context, actor: Actor, form: jobform.JobForm) -> None:
    if not st.toggle(
        "Show the preview",
        key="cj_preview",
        help="The labeling screen exactly as annotators will see it, on the first image; nothing is created.",
    ):
        return
    if not form.manifest_uri or not form.labels:
        st.info("Choose the input data and add labels first.", icon=":material/info:")
        return
    from gtcore.jobform.data import preview_task
    from gtcore.ui.task_view import render_task_screen

    try:
        task = preview_task(ctx, actor, form)
    except GTError as exc:
        show_error(exc)
        return
    with st.container(border=True):
        # queue.Task is frozen; task_view's TaskLike protocol declares plain (settable) attributes
        render_task_screen(ctx, task, preview=True, key_prefix="cj_preview_screen", actor=actor)  # type: ignore[arg-type]
