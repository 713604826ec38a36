"""The label category file of named entity recognition jobs (groundtruth-reference.md 1.8, 3.5).

Ground Truth requires ``instructions`` in an NER job's label category file::

    {"document-version":"2018-11-28",
     "labels":[{"label":"Person","shortDisplayName":"PER"}, ...],
     "instructions":{"shortInstruction":"<html>","fullInstruction":"<html>"}}

Both instruction texts must be strings, the short one under 255 characters and the full one under 2,048 (the
limits the reference gives for ``instructions``); ``shortDisplayName`` is optional text. The instructions are HTML
written by the team lead: the worker screen shows them as plain text (``instructions_text`` drops the tags and
decodes the entities; nothing of them is ever rendered as HTML).
"""

from __future__ import annotations

from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

from gtcore.core.errors import Problem

SHORT_MAX = 255
FULL_MAX = 2048
SHORT_DISPLAY_MAX = 256


def ner_config_problems(raw: Mapping[str, Any], where: str = "") -> list[Problem]:
    """What an NER label category file lacks or has wrong (empty list when it is fine)."""
    problems: list[Problem] = []
    ins = raw.get("instructions")
    if not isinstance(ins, Mapping):
        problems.append(
            Problem(
                'a named entity recognition job needs "instructions": {"shortInstruction": ..., '
                '"fullInstruction": ...} in its label category file (as Ground Truth requires)',
                where,
                field="instructions",
            )
        )
    else:
        for key, most in (("shortInstruction", SHORT_MAX), ("fullInstruction", FULL_MAX)):
            value = ins.get(key)
            if not isinstance(value, str) or not value.strip():
                problems.append(Problem("must be non-empty text (HTML)", where, field=f"instructions.{key}"))
            elif len(value) >= most:
                problems.append(
                    Problem(
                        f"is {len(value):,} characters; it must be under {most:,}", where, field=f"instructions.{key}"
                    )
                )
    for i, item in enumerate(raw.get("labels") or []):
        short = item.get("shortDisplayName") if isinstance(item, Mapping) else None
        if short is not None and (not isinstance(short, str) or not short.strip() or len(short) > SHORT_DISPLAY_MAX):
            problems.append(
                Problem(
                    f"must be text of 1 to {SHORT_DISPLAY_MAX} characters", where, field=f"labels[{i}].shortDisplayName"
                )
            )
    return problems


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("br", "p", "li", "div", "h1", "h2", "h3", "h4", "tr"):
            self.parts.append("\n")


def html_to_text(html: str) -> str:
    """The readable text of an HTML fragment: tags dropped (block tags become line breaks), entities decoded."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    return "\n".join(x for x in lines if x)


def instructions_text(raw: Mapping[str, Any]) -> tuple[str, str]:
    """``(short, full)`` plain text of the file's instructions ("" when absent)."""
    ins = raw.get("instructions")
    if not isinstance(ins, Mapping):
        return "", ""
    short, full = ins.get("shortInstruction"), ins.get("fullInstruction")
    return (html_to_text(short) if isinstance(short, str) else "", html_to_text(full) if isinstance(full, str) else "")


def dumps_ner_label_config(labels: list[str], short: str, full: str) -> str:
    """An NER label category file for ``labels`` with the instructions (compact JSON, raw UTF-8)."""
    import json

    from gtcore.manifests.label_config import DOCUMENT_VERSION

    doc = {
        "document-version": DOCUMENT_VERSION,
        "labels": [{"label": x} for x in labels],
        "instructions": {"shortInstruction": short, "fullInstruction": full},
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
