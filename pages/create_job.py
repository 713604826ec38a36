"""Create job (admins): the console flow of Ground Truth in one page, from data to a running labeling job.

Name -> input data (automated data setup, a manifest URI or an uploaded manifest) -> output -> task type ->
labels -> worker instructions with good/bad examples -> workers and time -> automated data labeling ->
preview (the annotators' labeling screen) -> Create (one gtcore call; every problem shown together).
Opened prefilled by the Jobs page for Clone and Chain.
"""

from __future__ import annotations

import streamlit as st

from gtcore.core.access import ADMIN
from gtcore.core.errors import GTError
from gtcore.core.textsafe import md_escape
from gtcore.jobform.create import create_from_form
from gtcore.ui import autolabel_widgets as aw
from gtcore.ui import jobform_actions as fa
from gtcore.ui import jobform_content as wc
from gtcore.ui import jobform_data_widgets as dw
from gtcore.ui import jobform_state as fs
from gtcore.ui import jobform_widgets as w
from gtcore.ui.auth import require_actor
from gtcore.ui.errors import show_error
from gtcore.ui.resources import get_context
from gtcore.workforce import teams

actor = require_actor(ADMIN)
ctx = get_context()
st.title("Create labeling job")
fa.apply_prefill(actor)
fs.init_defaults(str(ctx.settings.home))
w.flash()
origin = w.origin_ui()
if origin["origin"] == "new":
    dw.sample_ui()

st.subheader("1. Job name")
w.name_ui(ctx, actor, origin)
st.subheader("2. Input data")
dw.input_ui(origin)
st.subheader("3. Output location")
dw.output_ui()
st.subheader("4. Task type")
w.task_type_ui(origin)
st.subheader("5. Labels")
wc.labels_ui()
st.subheader("6. Worker instructions")
wc.instructions_ui(ctx, actor)
st.subheader("7. Workers and time")
try:
    team_names = [t.name for t in teams.list_teams(ctx, actor)]
except GTError as exc:
    show_error(exc)
    team_names = []
w.workers_ui(team_names)
st.subheader("8. Automated data labeling")
found = fs.ss().get(fs.DATA) or {}
least = ctx.settings.autolabel_min_objects
auto_ok = aw.auto_labeling_ui(found.get("count"), least, int(fs.ss().get("cj_max_concurrent", 1000)))
form = fs.current_form(auto_ok, least)
st.subheader("9. Preview")
w.preview_ui(ctx, actor, form)

st.subheader("10. Create")
if st.button("Create labeling job", key="cj_create", type="primary", icon=":material/rocket_launch:"):
    try:
        created = create_from_form(ctx, actor, form)
    except GTError as exc:
        fs.ss().pop(fs.CREATED, None)
        show_error(exc)
    else:
        fs.ss()[fs.CREATED] = {"name": created.name, "id": created.job_id, "objects": created.total_objects}
made = fs.ss().get(fs.CREATED)
if made:
    st.success(
        f"Created labeling job {md_escape(made['name'])} with {made['objects']:,} objects: its tasks are in the worker "
        "portal of the team now.",
        icon=":material/check_circle:",
    )
    c0, c1, c2 = st.columns(3)
    if c0.button("Open it on the Jobs page", key="cj_open_job", icon=":material/list_alt:"):
        fs.ss()[fs.JOBS_SELECTED] = made["name"]
        fs.go("pages/jobs.py", "Jobs")
    if fs.page_exists(fs.STATUS_PAGE) and c1.button(
        "Open its status page", key="cj_open_status", icon=":material/monitoring:"
    ):
        fs.ss()[fs.STATUS_KEY] = made["id"]
        fs.go(fs.STATUS_PAGE, "Job status")
    c2.button("Start another job", key="cj_another", on_click=fs.reset, icon=":material/add_box:")
