"""Label-verification output records (groundtruth-reference.md 1.6).

The workers' judgements (one of the team lead's verification labels each, e.g. "Correct" / "Incorrect",
answered with the classifier element ``{"crowd-image-classifier": {"label", "workerComment"?}}``) are
consolidated by the same Dawid-Skene EM as single-label classification (``gtcore.consolidation.classification``,
confidence rounded and capped at 0.95, 0 for one worker). The new attribute::

    "<attr>": "<class index as a string>"          (the documented example: "verify-...":"1")
    "<attr>-metadata": {"class-name", "confidence", "type": "groundtruth/label-verification", "job-name",
                        "human-annotated", "creation-date", "worker-feedback": [{"comment"}, ...]}

``worker-feedback`` holds the workers' non-empty comments (whitespace-only ones dropped), in submission order,
and is left out when there are none. The verified attribute itself stays untouched on the line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gtcore.output.records_classes import SingleFit


def verification_records(b: Any, fit: SingleFit, items: Sequence[Any]) -> dict[int, dict[str, Any]]:
    """``b`` is the record builder (``gtcore.output.records_base.Builder``); ``fit`` the whole job's EM, fed
    with ``records_classes.add_single(..., gold=False)``."""
    out: dict[int, dict[str, Any]] = {}
    element = b.spec.task_type.answer_element
    for it, pos in zip(items, fit.positions([it.idx for it in items]), strict=True):
        if pos is None:
            continue
        comments = []
        for a in it.answers:
            body = a.content.get(element) if isinstance(a.content, Mapping) else None
            text = body.get("workerComment") if isinstance(body, Mapping) else None
            if isinstance(text, str) and text.strip():
                comments.append(text)
        label, confidence = fit.get(pos)
        meta: dict[str, Any] = {
            "class-name": b.spec.labels[label],
            "confidence": confidence,
            "type": b.spec.task_type.output_type,
            "job-name": b.job,
            "human-annotated": "yes",
            "creation-date": b.clock(),
        }
        if comments:
            meta["worker-feedback"] = [{"comment": c} for c in comments]
        out[it.idx] = {b.attr: str(label), b.meta: meta}
    return out
