"""The auditor's view of text labels (text classification, multi-label, named entity recognition).

``text_rows`` reads every line's text and its labels for one attribute (any file: ours or Ground Truth's, a
class index as an integer or a string, missing metadata tolerated); ``filter_rows`` keeps the lines with a
label, by whom (human or machine) and containing a piece of text; ``text_statistics`` counts labels, entities
and confidences; ``highlight_html`` draws a text with its entity spans in class colours as escaped HTML (every
character of the file's text is escaped: a ``<script>`` in a text shows as text).
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from gtcore.core.colors import class_hex
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.manifests.label_values import as_dict, as_list, classes_of

TEXT_KINDS = frozenset({aug.TEXT_CLASSIFICATION, aug.TEXT_MULTI_LABEL, aug.NAMED_ENTITY})
WHO = ("all", "human", "machine")


@dataclass(frozen=True)
class Entity:
    label: str
    start: int
    end: int
    confidence: float | None = None


@dataclass
class TextRow:
    pos: int  # position in manifest.records
    line: int  # 1-based line of the file
    text: str | None  # inline source (None: the line names a file, or has no text)
    ref: str  # source-ref, when the text is in a file
    labels: list[str] = field(default_factory=list)  # class names (classification) or entity labels (NER)
    entities: list[Entity] = field(default_factory=list)
    confidence: float | None = None  # classification: the class's (multi-label: the lowest); NER: the lowest
    human: bool | None = None  # None: the line has no label for the attribute
    label_order: list[str] = field(default_factory=list)  # NER: the job's labels (colours by position)

    @property
    def labeled(self) -> bool:
        return self.human is not None


def is_text_attribute(attr: LabelAttribute | None) -> bool:
    return attr is not None and attr.type in TEXT_KINDS


def _entities(value: Any, meta: dict[str, Any]) -> tuple[list[Entity], list[str]]:
    ann = as_dict(as_dict(value).get("annotations"))
    confs = as_list(meta.get("entities"))
    out = []
    for i, e in enumerate(as_list(ann.get("entities"))):
        e = as_dict(e)
        start, end, label = e.get("startOffset"), e.get("endOffset"), e.get("label")
        if type(start) is not int or type(end) is not int or not isinstance(label, str):
            continue
        c = as_dict(confs[i]).get("confidence") if i < len(confs) else None
        out.append(Entity(label, start, end, float(c) if isinstance(c, int | float) else None))
    order = [str(as_dict(x).get("label")) for x in as_list(ann.get("labels")) if as_dict(x).get("label") is not None]
    return out, order


def text_rows(manifest: AugmentedManifest, attr: LabelAttribute) -> list[TextRow]:
    """One row per line of ``manifest`` for the text attribute ``attr``."""
    rows = []
    for pos, rec in enumerate(manifest.records):
        src = rec.get("source")
        ref = rec.get("source-ref")
        row = TextRow(
            pos, manifest.lines[pos], src if isinstance(src, str) else None, ref if isinstance(ref, str) else ""
        )
        if attr.name in rec:
            meta = as_dict(rec.get(f"{attr.name}-metadata"))
            row.human = meta.get("human-annotated", "yes") != "no"
            if attr.type == aug.NAMED_ENTITY:
                row.entities, row.label_order = _entities(rec.get(attr.name), meta)
                row.labels = sorted({e.label for e in row.entities})
                confs = [e.confidence for e in row.entities if e.confidence is not None]
                row.confidence = min(confs) if confs else None
            else:
                found = classes_of(rec, attr.name)
                row.labels = [c.class_name or str(c.class_id) for c in found]
                confs = [c.confidence for c in found if c.confidence is not None]
                row.confidence = min(confs) if confs else None
        rows.append(row)
    return rows


def label_names(rows: Iterable[TextRow]) -> list[str]:
    """Every label seen, in the job's order where known (NER), else by first appearance."""
    seen: dict[str, None] = {}
    for r in rows:
        for x in r.label_order:
            seen.setdefault(x, None)
    for r in rows:
        for x in r.labels:
            seen.setdefault(x, None)
    return list(seen)


def filter_rows(
    rows: Sequence[TextRow], *, labels: Iterable[str] = (), who: str = "all", contains: str = ""
) -> list[int]:
    """Positions of the rows that have one of ``labels`` (all rows when empty), were labeled by ``who``
    (``all``, ``human`` or ``machine``) and whose text or source-ref contains ``contains`` (any case)."""
    wanted = set(labels)
    needle = contains.strip().casefold()
    out = []
    for r in rows:
        if wanted and not wanted & set(r.labels):
            continue
        if who == "human" and r.human is not True:
            continue
        if who == "machine" and r.human is not False:
            continue
        if needle and needle not in (r.text or r.ref).casefold():
            continue
        out.append(r.pos)
    return out


def text_statistics(rows: Sequence[TextRow], positions: Iterable[int] | None = None) -> dict[str, Any]:
    """Counts for the Statistics tab: lines labeled by people / machine / not at all, per label (lines, and
    entities for NER), confidence histogram (0.1 bins), entity lengths, text lengths."""
    chosen = [rows[p] for p in positions] if positions is not None else list(rows)
    per_label_lines: Counter[str] = Counter()
    per_label_entities: Counter[str] = Counter()
    lengths: list[int] = []
    for r in chosen:
        per_label_lines.update(set(r.labels))
        per_label_entities.update(e.label for e in r.entities)
        lengths.extend(e.end - e.start for e in r.entities)
    confs = [r.confidence for r in chosen if r.confidence is not None]
    order = label_names(rows)
    labels = pd.DataFrame(
        {
            "label": order,
            "lines": [per_label_lines[x] for x in order],
            "entities": [per_label_entities[x] for x in order],
        }
    )
    bins = pd.cut(pd.Series(confs, dtype=float), bins=[i / 10 for i in range(11)], include_lowest=True)
    histogram = bins.value_counts(sort=False).rename_axis("confidence").reset_index(name="lines")
    histogram["confidence"] = histogram["confidence"].astype(str)
    text_lengths = [len(r.text) for r in chosen if r.text is not None]
    return {
        "lines": len(chosen),
        "human": sum(r.human is True for r in chosen),
        "machine": sum(r.human is False for r in chosen),
        "unlabeled": sum(r.human is None for r in chosen),
        "labels": labels,
        "confidence": histogram,
        "entities": sum(len(r.entities) for r in chosen),
        "mean_entity_length": (sum(lengths) / len(lengths)) if lengths else None,
        "mean_text_length": (sum(text_lengths) / len(text_lengths)) if text_lengths else None,
    }


def label_color(label: str, order: Sequence[str]) -> str:
    return class_hex(list(order).index(label)) if label in order else class_hex(None)


def highlight_html(text: str, entities: Sequence[Entity], order: Sequence[str]) -> str:
    """``text`` as escaped HTML with each entity's characters on its class colour (overlaps: underlines stacked,
    the later entity's background), line breaks kept; entities outside the text are left out."""
    n = len(text)
    spans = [e for e in entities if 0 <= e.start < e.end <= n]
    cuts = sorted({0, n, *(e.start for e in spans), *(e.end for e in spans)})
    parts = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = html.escape(text[a:b])
        covering = [e for e in spans if e.start <= a and e.end >= b]
        if not covering:
            parts.append(piece)
            continue
        top = label_color(covering[-1].label, order)
        lines = ", ".join(f"inset 0 -{3 * (d + 1)}px 0 0 {label_color(e.label, order)}" for d, e in enumerate(covering))
        title = html.escape(" + ".join(e.label for e in covering), quote=True)
        parts.append(
            f'<span title="{title}" style="background:{top}40;box-shadow:{lines};border-radius:3px">{piece}</span>'
        )
    return (
        '<div dir="auto" style="unicode-bidi:plaintext;line-height:2;white-space:pre-wrap;overflow-wrap:anywhere">'
        + "".join(parts)
        + "</div>"
    )
