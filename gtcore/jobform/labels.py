"""The Create job form's label list, without Streamlit: the limits shown, add / remove / move edits that say why
an edit is refused, and the list's problems in form terms (``gtcore.manifests.label_config.validate_labels``)."""

from __future__ import annotations

from gtcore.core import tasktypes
from gtcore.core.errors import Problem
from gtcore.jobform.problems import LABELS_FORM_FIELD
from gtcore.manifests.label_config import MAX_LABEL_CHARS, validate_labels


def label_limits_text(task_type: str) -> str:
    tt = tasktypes.get(task_type)
    return f"{tt.title}: {tt.min_labels} to {tt.max_labels} labels, each at most {MAX_LABEL_CHARS} characters."


def add_label(labels: list[str], text: str, task_type: str) -> tuple[list[str], str | None]:
    """``labels`` with ``text`` appended, or the unchanged list and why it was refused."""
    value = (text or "").strip()
    tt = tasktypes.get(task_type)
    if not value:
        return list(labels), "type a label first"
    if len(value) > MAX_LABEL_CHARS:
        return list(labels), f"a label is at most {MAX_LABEL_CHARS} characters; this one has {len(value)}"
    if value in labels:
        return list(labels), f"{value!r} is already in the list (labels must be unique)"
    if len(labels) >= tt.max_labels:
        return list(labels), f"{tt.title} allows at most {tt.max_labels} labels"
    return [*labels, value], None


def remove_label(labels: list[str], index: int) -> list[str]:
    return [x for i, x in enumerate(labels) if i != index]


def move_label(labels: list[str], index: int, delta: int) -> list[str]:
    """``labels`` with the one at ``index`` moved by ``delta`` places (clamped to the ends)."""
    out = list(labels)
    if not 0 <= index < len(out):
        return out
    target = max(0, min(len(out) - 1, index + delta))
    out.insert(target, out.pop(index))
    return out


def label_problems(labels: list[str], task_type: str) -> list[Problem]:
    return [
        Problem(p.message, field=p.field)
        for p in validate_labels(labels, tasktypes.get(task_type), where=LABELS_FORM_FIELD)
    ]
