"""The named entity recognition screen: the text with its spans in class colours, made with the mouse or the keys.

A small Streamlit component (components v2, inline JS and CSS read from ``entity_annotator.js`` / ``.css`` beside
this module; no build step). It receives the text, the labels with their colours and keys (1-9, 0) and the
entities to start from (the worker's draft), and sends the entities back on every change; how to select, label,
relabel and remove is written at the top of the JS file and in the caption under the editor. Overlapping spans
are allowed (as in Ground Truth), drawn as stacked underlines in their colours.

Offsets are Unicode code points on both sides (the component converts from the browser's UTF-16). What comes back
is checked again here (``answer_checks_spans``: the shape, and against the text), and once more at submit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from gtcore.context import Context
from gtcore.core import tasktypes
from gtcore.core.access import Actor
from gtcore.core.colors import class_hex
from gtcore.core.errors import Problem
from gtcore.ui.label_picker import md_escape, shortcut_for
from gtcore.ui.task_session import TaskLike, TaskScreenResult, choice_key

_HERE = Path(__file__).parent
_HTML = (
    '<div class="gt-ner"><div class="gt-ner-labels"></div>'
    '<div class="gt-ner-text" tabindex="0" role="textbox" aria-readonly="true" aria-label="Text to label"></div>'
    '<div class="gt-ner-note" role="status"></div><div class="gt-ner-list"></div></div>'
)
_annotator = st.components.v2.component(
    "gtcore.entity_annotator",
    html=_HTML,
    css=(_HERE / "entity_annotator.css").read_text(encoding="utf-8"),
    js=(_HERE / "entity_annotator.js").read_text(encoding="utf-8"),
    isolate_styles=False,
)
HELP = (
    "Select text with the mouse (or click the text and use Shift+arrow keys; with Ctrl, by word), then press a "
    "label's key (1-9, 0) or click the label. Tab steps through the entities: a key relabels the chosen one, Delete "
    "removes it. Spans may overlap; none may cross a line break. Ctrl+Enter submits."
)


def seed_entities(task: TaskLike, element: str) -> list[dict[str, Any]]:
    """The worker's saved entities (the draft), in the component's ``{label, start, end}`` shape."""
    body = (task.draft or {}).get(element)
    raw = body.get("entities") if isinstance(body, dict) else None
    out = []
    for e in raw if isinstance(raw, list) else []:
        if isinstance(e, dict) and isinstance(e.get("startOffset"), int) and isinstance(e.get("endOffset"), int):
            out.append({"label": e.get("label"), "start": e["startOffset"], "end": e["endOffset"]})
    return out


def entities_from(value: Any, labels: list[str], text: str, element: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The component's entities as Ground Truth's answer entities, keeping only those that fit the text."""
    from gtcore.queue.answer_checks_spans import check_entities, span_problems

    problems: list[Problem] = []
    raw = [
        {"endOffset": e.get("end"), "label": e.get("label"), "startOffset": e.get("start")}
        for e in (value if isinstance(value, list) else [])
        if isinstance(e, dict)
    ]
    clean = check_entities(labels, {"entities": raw}, element, lambda f, m: problems.append(Problem(m, field=f)))
    fitting = []
    for ent in clean["entities"]:
        found = span_problems([ent], text, element)
        if found:
            problems.extend(found)
        else:
            fitting.append(ent)
    return fitting, problems


def entity_ui(
    text: str, task: TaskLike, state: dict[str, Any], key_prefix: str, *, readonly: bool = False
) -> TaskScreenResult:
    tt = tasktypes.get(task.task_type)
    labels = list(task.labels)
    key = choice_key(key_prefix, task)
    state["widget_keys"] = [key]
    seed = state.setdefault("entities_seed", seed_entities(task, tt.answer_element))
    data = {
        "ident": f"{task.job_id}:{task.assignment_id}:{task.object_idx}",
        "text": text,
        "labels": [{"name": x, "color": class_hex(i), "key": shortcut_for(i)} for i, x in enumerate(labels)],
        "entities": seed,
        "readonly": readonly,
    }
    result = _annotator(key=key, data=data, default={"entities": seed}, on_entities_change=lambda: None)
    st.caption(HELP)
    entities, problems = entities_from(result.get("entities"), labels, text, tt.answer_element)
    for p in problems[:3]:
        st.warning(md_escape(f"Left out: {p}"), icon=":material/warning:")
    answer = {tt.answer_element: {"entities": entities}}
    return TaskScreenResult(answer=answer, draft=answer)


def ner_screen(
    ctx: Context, actor: Actor, task: TaskLike, state: dict[str, Any], key_prefix: str, preview: bool
) -> TaskScreenResult:
    from gtcore.ui.text_task import task_text, text_unavailable

    text, error = task_text(ctx, actor, task, state)
    if text is None:
        return text_unavailable(ctx, actor, task, state, error, preview)
    return entity_ui(text, task, state, key_prefix)
