"""Named entity recognition answers: ``crowd-entity-annotation``'s ``entities`` (groundtruth-reference.md 1.8, 1.10).

    {"crowd-entity-annotation": {"entities": [{"endOffset": 13, "label": "Person", "startOffset": 0}, ...]}}

Offsets count Unicode code points (Python ``str`` indices) of the object's text: ``startOffset`` is the first
character of the span, ``endOffset`` the first character after it (the reference: "the Unicode offset"). The
browser counts UTF-16 units; the NER screen converts, so an emoji is one character here.

Shape rules (``check_entities``, no text needed): offsets are integers (not booleans), ``0 <= start < end``,
labels are the job's, no span twice with the same label, at most ``MAX_ENTITIES``. Overlapping spans are allowed,
as in Ground Truth. Text rules (``span_problems``, at submit, with the object's text): the span ends inside the
text, crosses no line break, is not only whitespace, and neither starts nor ends inside a character (on a
combining mark, a zero-width joiner or a variation selector).
"""

from __future__ import annotations

import unicodedata
from typing import Any

from gtcore.core.errors import Problem

MAX_ENTITIES = 1000
ENTITY_KEYS = ("endOffset", "label", "startOffset")
_JOINERS = {"\u200d", "\u200c", "\ufe0e", "\ufe0f"}


def _offset(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_entities(labels: list[str], body: dict, el: str, bad: Any) -> dict:
    """The clean ``{"entities": [...]}`` of a crowd-entity-annotation body; problems go to ``bad(field, msg)``."""
    for key in body:
        if key not in ("entities", "workerComment"):
            bad(f"{el}.{key}", "unknown key (allowed: entities, workerComment)")
    raw = body.get("entities")
    if not isinstance(raw, list):
        bad(f"{el}.entities", "missing" if raw is None else "must be a list of entities")
        return {"entities": []}
    if len(raw) > MAX_ENTITIES:
        bad(f"{el}.entities", f"{len(raw)} entities; at most {MAX_ENTITIES} are allowed per text")
    out: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], int] = {}
    for i, ent in enumerate(raw[:MAX_ENTITIES]):
        field = f"{el}.entities[{i}]"
        if not isinstance(ent, dict):
            bad(field, "must be an object with endOffset, label and startOffset")
            continue
        ok = True
        for key in ent:
            if key not in ENTITY_KEYS:
                bad(f"{field}.{key}", "unknown key (allowed: endOffset, label, startOffset)")
                ok = False
        start, end, label = ent.get("startOffset"), ent.get("endOffset"), ent.get("label")
        for key, value in (("startOffset", start), ("endOffset", end)):
            if not _offset(value):
                bad(f"{field}.{key}", "missing" if value is None else f"must be a whole number >= 0, got {value!r}")
                ok = False
        if ok and isinstance(end, int) and isinstance(start, int) and end <= start:
            bad(f"{field}.endOffset", f"must be greater than startOffset ({start}), got {end}")
            ok = False
        if not isinstance(label, str):
            bad(f"{field}.label", "missing" if label is None else "must be a label name (text)")
            ok = False
        elif label not in labels:
            bad(f"{field}.label", f"{label!r} is not one of the job's labels")
            ok = False
        if not ok:
            continue
        ident = (label, start, end)
        if ident in seen:
            bad(field, f"the same span with the same label as entities[{seen[ident]}]")
            continue
        seen[ident] = i
        out.append({"endOffset": end, "label": label, "startOffset": start})
    return {"entities": out}


def _inside_character(text: str, at: int) -> bool:
    """Whether offset ``at`` falls inside a character: the code point there continues the one before it."""
    if at <= 0 or at >= len(text):
        return False
    ch = text[at]
    return ch in _JOINERS or unicodedata.category(ch) in ("Mn", "Me", "Mc") or text[at - 1] == "\u200d"


def span_problems(entities: list[dict[str, Any]], text: str, el: str = "crowd-entity-annotation") -> list[Problem]:
    """Every entity that does not fit ``text`` (its field named: ``<el>.entities[2].endOffset``)."""
    problems: list[Problem] = []
    n = len(text)
    for i, ent in enumerate(entities):
        field = f"{el}.entities[{i}]"
        start, end = ent["startOffset"], ent["endOffset"]
        if end > n:
            problems.append(Problem(f"{end} is past the end of the text ({n} characters)", field=f"{field}.endOffset"))
            continue
        piece = text[start:end]
        if "\n" in piece or "\r" in piece:
            at = start + min(x for x in (piece.find("\n"), piece.find("\r")) if x >= 0)
            problems.append(Problem(f"the span {start}-{end} crosses a line break at offset {at}", field=field))
        elif not piece.strip():
            problems.append(Problem(f"the span {start}-{end} holds only whitespace", field=field))
        for key, at in (("startOffset", start), ("endOffset", end)):
            if _inside_character(text, at):
                problems.append(
                    Problem(
                        f"{at} falls inside a character (U+{ord(text[at]):04X} joins the one before)",
                        field=f"{field}.{key}",
                    )  # fmt: skip
                )
    return problems


def check_spans(answer: dict[str, Any], text: str, el: str = "crowd-entity-annotation") -> None:
    """Raise ValidationError naming every entity of a checked NER ``answer`` that does not fit ``text``."""
    from gtcore.core.errors import ValidationError

    body = answer.get(el) or {}
    problems = span_problems(list(body.get("entities") or []), text, el)
    if problems:
        raise ValidationError(problems, summary="the entities do not fit the text")
