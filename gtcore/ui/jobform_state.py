"""The Create job page's state: defaults, the Clone/Chain prefill written into the widgets, the callbacks that
only change the state (verification and adjustment boxes, texts following the task type) and the JobForm. The
callbacks that act through gtcore (input data, task type radio, taking a prefill request) are in
``gtcore.ui.jobform_actions``.

Widget values live under ``cj_*`` keys of ``st.session_state`` (set here before the widgets exist, never
through a widget's ``value=``); lists the widgets edit (labels, examples) and results of actions (the
input data) live under non-widget keys. Callbacks run before the next script run, so they may change
widget keys; a gtcore error they meet is kept under ``FLASH_ERROR`` and shown by the page once.

The Jobs page opens this page prefilled by setting ``st.session_state[PREFILL] = {"origin": "clone" |
"chain", "job": <name>}`` and switching to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.errors import StreamlitAPIException

from gtcore.core import tasktypes
from gtcore.core.access import Actor
from gtcore.core.errors import GTError, PermissionDenied
from gtcore.core.tasktypes import DEFAULT_TEXTS
from gtcore.jobform.auto_labeling import AUTO_LABELING_MIN_OBJECTS
from gtcore.jobform.model import ExampleImage, JobForm, default_output

PREFILL = "create_job_prefill"
JOBS_SELECTED = "jobs_selected"
FLASH_ERROR, FLASH_INFO, DATA_ERROR = "cj_flash_error", "cj_flash_info", "cj_data_error"
LABELS, EXAMPLES, DATA, ORIGIN, CREATED = "cj_labels", "cj_examples", "cj_data", "cj_origin", "cj_created"
OUTPUT_DEFAULT, KEPT = "cj_output_default", "cj_kept"  # KEPT: the form's values, across pages
MINUTE, HOUR = 60, 3600
STATUS_PAGE, STATUS_KEY = "pages/job_status.py", "job_status_job_id"  # the Job status page and its input
REPO_ROOT = Path(__file__).resolve().parents[2]


def ss() -> Any:
    return st.session_state


def page_exists(page: str) -> bool:
    """Whether ``page`` (relative to the repository, like ``pages/job_status.py``) is there to switch to."""
    return (REPO_ROOT / page).is_file()


def go(page: str, what: str) -> None:
    """Switch to ``page``; when the page is not in the navigation (a page run on its own) say where to go."""
    try:
        st.switch_page(page)
    except StreamlitAPIException:
        st.info(f"Open the {what} page from the menu.", icon=":material/arrow_forward:")


def init_defaults(ctx_home: str) -> None:
    """Fill every missing ``cj_*`` value: what the form held when the page was left (Streamlit drops the
    values of widgets a run does not draw, so another page would lose them), else a default a new user can
    keep. Then remember the values for the next time the page is left."""
    state = ss()
    for key, value in (state.get(KEPT) or {}).items():
        state.setdefault(key, value)
    task_type = state.setdefault("cj_task_type", "BoundingBox")
    title, description, seconds = DEFAULT_TEXTS[task_type]
    for key, value in (
        ("cj_name", ""),
        ("cj_attr", ""),
        ("cj_input_kind", "folder"),
        ("cj_data_kind", "text" if tasktypes.get(task_type).text else "image"),
        ("cj_folder", ""),
        ("cj_manifest_uri", ""),
        ("cj_title", title),
        ("cj_description", description),
        ("cj_full", ""),
        ("cj_new_label", ""),
        ("cj_workers", 1),
        ("cj_time_min", seconds // MINUTE),
        ("cj_lifetime_h", 720),
        ("cj_max_concurrent", 1000),
        ("cj_auto", False),
        ("cj_model_uri", ""),
        ("cj_ex_kind", "good"),
        ("cj_ex_uri", ""),
        ("cj_ex_caption", ""),
        ("cj_chain_same", False),
        ("cj_adjust", False),
    ):
        state.setdefault(key, value)
    state.setdefault(LABELS, [])
    state.setdefault(EXAMPLES, [])
    default = default_output(ctx_home, "")
    state.setdefault(OUTPUT_DEFAULT, default)
    state.setdefault("cj_output", default)
    state[KEPT] = {k: state[k] for k in _KEEP if k in state}


_KEEP = (  # the widget values of the form (not buttons, not the uploaded file)
    "cj_name", "cj_attr", "cj_input_kind", "cj_data_kind", "cj_folder", "cj_manifest_uri", "cj_output",
    "cj_task_type", "cj_title",
    "cj_description", "cj_full", "cj_new_label", "cj_workers", "cj_time_min", "cj_lifetime_h", "cj_max_concurrent",
    "cj_team", "cj_auto", "cj_ex_kind", "cj_ex_uri", "cj_ex_caption", "cj_chain_same", "cj_adjust",
)  # fmt: skip


def reset() -> None:
    """Forget the whole form (the next run starts from the defaults)."""
    for key in [k for k in ss() if str(k).startswith("cj_")]:
        del ss()[key]


def fail(exc: GTError) -> None:
    ss()[FLASH_ERROR] = exc


def fail_data(exc: GTError) -> None:
    """An input-data action failed: the message goes under the input-data buttons (``DATA_ERROR``), in full."""
    ss()[DATA_ERROR] = exc


def note(text: str) -> None:
    ss()[FLASH_INFO] = text


def apply_form(form: JobForm, source_status: str = "") -> None:
    """Write ``form`` into the widget keys (before they are drawn), e.g. a Clone or Chain prefill."""
    reset()
    state = ss()
    state.update(
        {
            "cj_name": form.name,
            "cj_attr": form.label_attribute,
            "cj_input_kind": "uri",
            "cj_manifest_uri": form.manifest_uri,
            "cj_output": form.output_path,
            OUTPUT_DEFAULT: None,  # the source's output location stays, whatever the input
            "cj_task_type": form.task_type,
            "cj_title": form.title,
            "cj_description": form.description,
            "cj_full": form.full_instructions,
            "cj_workers": form.workers_per_object,
            "cj_time_min": max(1, form.task_time_limit // MINUTE),
            "cj_lifetime_h": max(1, form.availability_lifetime // HOUR),
            "cj_max_concurrent": form.max_concurrent,
            "cj_team": form.team,
            "cj_auto": form.auto_labeling,
            "cj_model_uri": form.auto_model_uri,
            LABELS: list(form.labels),
            EXAMPLES: [{"kind": e.kind, "image_uri": e.image_uri, "caption": e.caption} for e in form.examples],
        }
    )
    if form.origin in ("clone", "chain"):
        state[ORIGIN] = {
            "origin": form.origin,
            "job": form.source_job,
            "attribute": form.source_attribute,
            "task_type": form.task_type,
            "status": source_status,
            "base": form.base_request,
            "texts": {  # written for the source job's type: they follow another type (``follow_type``)
                "cj_title": form.title,
                "cj_description": form.description,
                "cj_full": form.full_instructions,
                EXAMPLES: [dict(e) for e in state[EXAMPLES]],
            },
        }
        state["cj_chain_same"] = bool(form.label_attribute) and form.label_attribute == form.source_attribute


def signed_in() -> Actor:
    """The signed-in user, for button callbacks (gtcore checks the role on every call)."""
    from gtcore.ui.auth import current_actor

    who = current_actor()
    if who is None:
        raise PermissionDenied("please sign in again")
    return who


# --------------------------------------------------------------------------- callbacks: labels and examples


def follow_type(new: str) -> None:
    """Title, description, full instructions, good/bad examples and time limit follow the task type ``new``
    unless the team lead wrote their own: a value that is blank, some type's default, or what the Clone/Chain
    prefill brought (written for the source job's type) becomes ``new``'s default (no full instructions, no
    examples); back on the source job's type, the prefill's values return."""
    state = ss()
    prefill: dict[str, Any] = origin().get("texts") or {}
    back = bool(prefill) and new == origin().get("task_type")
    title, description, seconds = DEFAULT_TEXTS.get(new, DEFAULT_TEXTS["BoundingBox"])
    defaults = {"cj_title": title, "cj_description": description, "cj_full": ""}
    for key, slot in (("cj_title", 0), ("cj_description", 1), ("cj_full", None)):
        known = {"", prefill.get(key, "")} | ({v[slot] for v in DEFAULT_TEXTS.values()} if slot is not None else set())
        if state.get(key, "") in known:
            state[key] = prefill[key] if back else defaults[key]
    if state.get(EXAMPLES, []) in ([], prefill.get(EXAMPLES, [])):
        state[EXAMPLES] = [dict(e) for e in prefill.get(EXAMPLES, [])] if back else []
    if state.get("cj_time_min") in {v[2] // MINUTE for v in DEFAULT_TEXTS.values()}:
        state["cj_time_min"] = seconds // MINUTE


VERIFY_LABELS = ["Correct", "Incorrect"]  # the team lead's verification labels until changed


def verification_labels(verifies: bool) -> None:
    """A verification job's labels are judgements, not classes: swap the label list in (and back out)."""
    if verifies and "cj_labels_before_verify" not in ss():
        ss()["cj_labels_before_verify"] = list(ss().get(LABELS, []))
        ss()[LABELS] = list(VERIFY_LABELS)
    elif not verifies and "cj_labels_before_verify" in ss():
        ss()[LABELS] = ss().pop("cj_labels_before_verify")


def on_verify_change() -> None:
    """The chain's "verification job" box: labels become the verification labels; unticked, the job's again."""
    if ss().get("cj_verify"):
        ss()["cj_adjust"] = False
    verification_labels(bool(ss().get("cj_verify")))
    follow_type(current_task_type())


def on_adjust_change() -> None:
    """The chain's "adjustment job" box: the texts follow the adjustment type (and back)."""
    follow_type(current_task_type())


# --------------------------------------------------------------------------- the form


def origin() -> dict[str, Any]:
    return ss().get(ORIGIN) or {"origin": "new"}


def current_task_type() -> str:
    o = origin()
    if o["origin"] == "chain":
        targets = tasktypes.chain_targets(str(o["task_type"]))
        if ss().get("cj_verify") and len(targets) > 2:
            return targets[2]
        if ss().get("cj_adjust") and len(targets) > 1:
            return targets[1]
        return str(o["task_type"])
    return str(ss().get("cj_task_type", "BoundingBox"))


def current_form(auto_allowed: bool, auto_min_objects: int = AUTO_LABELING_MIN_OBJECTS) -> JobForm:
    """The JobForm the widgets describe now."""
    state, o = ss(), origin()
    found = state.get(DATA) or {}
    chain = o["origin"] == "chain"
    attribute = str(state.get("cj_attr", ""))
    if chain and state.get("cj_chain_same") and not state.get("cj_adjust") and not state.get("cj_verify"):
        attribute = str(o["attribute"])
    return JobForm(
        name=str(state.get("cj_name", "")),
        label_attribute=attribute,
        manifest_uri=str(found.get("manifest_uri", "")),
        object_count=found.get("count"),
        output_path=str(state.get("cj_output", "")),
        task_type=current_task_type(),
        labels=list(state.get(LABELS, [])),
        title=str(state.get("cj_title", "")),
        description=str(state.get("cj_description", "")),
        full_instructions=str(state.get("cj_full", "")),
        examples=[ExampleImage(e["kind"], e["image_uri"], e["caption"]) for e in state.get(EXAMPLES, [])],
        workers_per_object=int(state.get("cj_workers", 1)),
        task_time_limit=int(state.get("cj_time_min", 60)) * MINUTE,
        availability_lifetime=int(state.get("cj_lifetime_h", 720)) * HOUR,
        max_concurrent=int(state.get("cj_max_concurrent", 1000)),
        team=str(state.get("cj_team") or ""),
        auto_labeling=bool(state.get("cj_auto")) and auto_allowed,
        auto_model_uri=str(state.get("cj_model_uri", "")),
        auto_min_objects=auto_min_objects,
        origin=str(o["origin"]),
        source_job=str(o.get("job", "")),
        source_attribute=str(o.get("attribute", "")),
        verify_attribute=str(state.get("cj_verify_attr", "")),
        base_request=dict(o.get("base") or {}),
    )
