"""Output records of the text task types (groundtruth-reference.md 1.4, 1.8).

Text classification is consolidated as image classification is (the Dawid-Skene EM in ``records``); only the
``type`` and, for single-label, the metadata key order differ: the one real text-classification line known
(reference 1.4, 2019) orders them ``confidence, job-name, class-name, human-annotated, creation-date, type``,
and we write that order so such a line and ours compare byte for byte. Multi-label text uses the multi-label
image order (no real text line is known). Named entity recognition: ``ner_records`` below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gtcore.consolidation.spans import Span, consolidate_spans

TEXT_SINGLE_METADATA_ORDER = ("confidence", "job-name", "class-name", "human-annotated", "creation-date", "type")


def text_single_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """``meta`` (a single-label record's metadata) in the text-classification key order."""
    out = {k: meta[k] for k in TEXT_SINGLE_METADATA_ORDER if k in meta}
    out.update({k: v for k, v in meta.items() if k not in out})
    return out


def ner_records(
    items: Sequence[Any],
    *,
    labels: Sequence[str],
    attr: str,
    job: str,
    output_type: str,
    element: str,
    clock: Callable[[], str],
    problem: Callable[[Any, str, str, str], None],
) -> dict[int, dict[str, Any]]:
    """Named entity recognition records (reference 1.8), key orders as in Ground Truth's published lines:

    ``{"annotations":{"entities":[{"endOffset","startOffset","label"}],"labels":[{"label"}...]}}`` (every label of
    the job) and metadata ``entities:[{"confidence"}] (one per entity), job-name, type, creation-date,
    human-annotated``. Spans are consolidated by ``gtcore.consolidation.spans``.
    """
    label_list = [{"label": x} for x in labels]
    out: dict[int, dict[str, Any]] = {}
    for it in items:
        per_worker: list[list[Span]] = []
        for a in it.answers:
            el = a.content.get(element) if isinstance(a.content, Mapping) else None
            raw = el.get("entities") if isinstance(el, Mapping) else None
            if not isinstance(raw, list):
                problem(it, a.worker_id, f"{element}.entities", "missing or not a list")
                continue
            spans = []
            for e in raw:
                try:
                    span = Span(str(e["label"]), int(e["startOffset"]), int(e["endOffset"]))
                except (KeyError, TypeError, ValueError):
                    problem(it, a.worker_id, f"{element}.entities", f"malformed entity {e!r}")
                    continue
                if span.label in labels and span.end > span.start:
                    spans.append(span)
                else:
                    problem(it, a.worker_id, f"{element}.entities", f"entity {e!r} has an unknown label or no text")
            per_worker.append(spans)
        merged = consolidate_spans(per_worker, seed=it.idx)
        entities = [{"endOffset": m.end, "startOffset": m.start, "label": m.label} for m in merged]
        out[it.idx] = {
            attr: {"annotations": {"entities": entities, "labels": [dict(x) for x in label_list]}},
            f"{attr}-metadata": {
                "entities": [{"confidence": m.confidence} for m in merged],
                "job-name": job,
                "type": output_type,
                "creation-date": clock(),
                "human-annotated": "yes",
            },
        }
    return out
