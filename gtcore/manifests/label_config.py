"""Label category configuration (``LabelCategoryConfigS3Uri``): the list of classes a job offers.

The file Ground Truth reads for image and text built-in tasks::

    {"document-version":"2018-11-28","labels":[{"label":"cat"},{"label":"dog"}]}

Class indices in output manifests are positions in ``labels``. Rules: labels unique, each at most
256 characters, at least ``task_type.min_labels`` (2 for classification) and at most
``task_type.max_labels`` of them. Video / 3D configs use ``"documentVersion":"2020-03-01"``; that key
is accepted too, and every other key is kept in ``LabelConfig.raw``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gtcore.core.errors import Problem, ValidationError
from gtcore.core.tasktypes import TaskType

DOCUMENT_VERSION = "2018-11-28"
MAX_LABEL_CHARS = 256


@dataclass
class LabelConfig:
    labels: list[str]
    raw: dict = field(default_factory=dict)


def _label_problems(labels: list[str], where: str) -> list[Problem]:
    """Task-independent rules: non-blank, at most 256 characters, no exact (case-sensitive) duplicates."""
    problems: list[Problem] = []
    first_at: dict[str, int] = {}
    for i, label in enumerate(labels):
        name = f"{where}[{i}]"
        if not label.strip():
            problems.append(Problem("label is empty or only whitespace", field=name))
            continue
        if len(label) > MAX_LABEL_CHARS:
            problems.append(
                Problem(f"label is {len(label)} characters long; the limit is {MAX_LABEL_CHARS}", field=name)
            )
        if label in first_at:
            problems.append(Problem(f"duplicate label {label!r} (same as {where}[{first_at[label]}])", field=name))
        else:
            first_at[label] = i
    return problems


def validate_labels(labels: list[str], task_type: TaskType, where: str = "labels") -> list[Problem]:
    """Every problem with ``labels`` for a job of ``task_type`` (empty list when they are fine)."""
    problems: list[Problem] = []
    bad = [i for i, x in enumerate(labels) if not isinstance(x, str)]
    for i in bad:
        problems.append(Problem(f"label must be text, not {type(labels[i]).__name__}", field=f"{where}[{i}]"))
    texts = [x for x in labels if isinstance(x, str)]
    n = len(labels)
    if n < task_type.min_labels:
        problems.append(
            Problem(f"{task_type.title} needs at least {task_type.min_labels} label(s); {n} given", field=where)
        )
    if n > task_type.max_labels:
        problems.append(
            Problem(f"{task_type.title} allows at most {task_type.max_labels} labels; {n} given", field=where)
        )
    if not bad:
        problems.extend(_label_problems(texts, where))
    if task_type.paints_mask and "BACKGROUND" in texts:
        problems.append(Problem("BACKGROUND is class 0 of every mask; choose another label name", field=where))
    return problems


def parse_label_config(text: str, where: str = "") -> LabelConfig:
    """Parse a label category configuration file; raises ValidationError listing every problem."""
    head = f"label category config {where}".rstrip()

    def fail(problems: list[Problem]) -> ValidationError:
        return ValidationError(problems, summary=f"{head} is not valid")

    text = text.removeprefix("\ufeff")
    try:
        doc: Any = json.loads(text)
    except RecursionError:
        raise fail([Problem("JSON nested too deeply to read", where)]) from None
    except json.JSONDecodeError as exc:
        raise fail([Problem(f"not valid JSON: {exc.msg}", where, exc.lineno)]) from None
    if not isinstance(doc, dict):
        raise fail([Problem('must be a JSON object like {"document-version":"2018-11-28","labels":[...]}', where)])
    problems: list[Problem] = []
    version = doc.get("document-version", doc.get("documentVersion"))
    if version is not None and not isinstance(version, str):
        problems.append(
            Problem('document-version must be a string such as "2018-11-28"', where, field="document-version")
        )
    items = doc.get("labels")
    if not isinstance(items, list) or not items:
        problems.append(
            Problem('needs "labels": a non-empty list of {"label": "<name>"} objects', where, field="labels")
        )
        raise fail(problems)
    labels: list[str] = []
    for i, item in enumerate(items):
        value = item.get("label") if isinstance(item, dict) else None
        if not isinstance(value, str):
            problems.append(
                Problem(
                    'each entry must be an object {"label": "<name>"} with a text label', where, field=f"labels[{i}]"
                )
            )
            continue
        labels.append(value)
    if not problems:
        problems.extend(Problem(p.message, where, field=p.field) for p in _label_problems(labels, "labels"))
    if problems:
        raise fail(problems)
    return LabelConfig(labels=labels, raw=doc)


def load_label_config(storage: Any, uri: str) -> LabelConfig:
    """Read and parse the label category configuration file at ``uri``."""
    return parse_label_config(storage.read_text(uri), where=uri)


def dumps_label_config(labels: list[str]) -> str:
    """The configuration file text for ``labels`` (compact JSON, raw UTF-8, no trailing newline)."""
    doc = {"document-version": DOCUMENT_VERSION, "labels": [{"label": x} for x in labels]}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
