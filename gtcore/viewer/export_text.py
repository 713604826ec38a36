"""Export text labels: NER as CoNLL-2003 BIO and spaCy's JSON training format, text classification as JSON Lines
and CSV. Always after ``lint_text`` (the linter); nothing is written half-way (files are built in memory).

    export_text(manifest, attribute, fmt) -> TextExport(files, issues)      # fmt in TEXT_FORMATS

Tokens (both NER formats): runs of letters/digits/marks, or single other non-space characters, split at every
entity boundary so each entity is whole tokens (a span "ana" inside "banana" makes "ban" + "ana").

- ``conll``: ``ner.conll``. Each manifest line is a document opened by ``-DOCSTART- -X- O O``; each line of its
  text a sentence (a blank line after it); one token a line: ``token -X- _ TAG`` with BIO tags (``B-<label>``,
  ``I-<label>``, ``O``); whitespace in a label becomes ``_``. BIO cannot hold overlapping entities: of two that
  overlap the one that starts first (the longer on a tie) is kept and the others are counted as issues.
- ``spacy``: ``ner.json``: spaCy's JSON training format (v2, read by ``spacy convert`` / ``json_to_docs``): one
  document per line, ``paragraphs[0].raw`` the text, one sentence per text line, tokens with ``orth``, ``space``
  (a single space follows) and BILUO ``ner`` tags; whitespace other than one space is a token of its own, so the
  tokens rebuild the text exactly. Same overlap rule.
- ``jsonl``: ``labels.jsonl``: ``{"text", "label"}`` (multi-label: ``"labels"``), plus ``line``, ``confidence``,
  ``human-annotated`` and ``source-ref`` when the text is in a file (then ``text`` is null).
- ``csv``: ``labels.csv`` (UTF-8 with BOM, for spreadsheets): ``line,text,label(s),confidence,human_annotated,
  source_ref``; a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a leading ``'``
  (spreadsheet formula injection); several labels are joined with ``|``.

Lines without the attribute (not labeled) are left out and counted.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from gtcore.core.errors import GTError, Problem, ValidationError
from gtcore.manifests import augmented as aug
from gtcore.manifests.augmented import AugmentedManifest, LabelAttribute
from gtcore.viewer.text_table import Entity, TextRow, text_rows

TEXT_FORMATS = {
    aug.NAMED_ENTITY: ("conll", "spacy"),
    aug.TEXT_CLASSIFICATION: ("jsonl", "csv"),
    aug.TEXT_MULTI_LABEL: ("jsonl", "csv"),
}
DOCSTART = "-DOCSTART- -X- O O"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TOKEN = re.compile(r"\w+|\S")
_JOINERS = {"\u200d", "\u200c", "\ufe0e", "\ufe0f"}


@dataclass
class TextIssue:
    line: int
    code: str  # overlap | outside | no-text | unlabeled
    message: str


@dataclass
class TextExport:
    format: str
    files: dict[str, bytes]
    issues: list[TextIssue] = field(default_factory=list)
    documents: int = 0

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for i in self.issues:
            counts[i.code] = counts.get(i.code, 0) + 1
        said = ", ".join(f"{n} {c}" for c, n in sorted(counts.items()))
        return f"{self.documents} line(s) exported to {self.format}" + (f"; left out: {said}" if said else "")


def text_attribute(manifest: AugmentedManifest, name: str | LabelAttribute | None) -> LabelAttribute:
    attrs = [a for a in manifest.attributes if a.type in TEXT_FORMATS]
    if isinstance(name, LabelAttribute):
        attr = name
    elif name:
        attr = manifest.attribute(name)
    elif attrs:
        attr = attrs[0]
    else:
        raise GTError(f"{manifest.uri}: no text classification or named-entity attribute to export")
    if attr.type not in TEXT_FORMATS:
        raise GTError(f"{attr.name} is {attr.type}: text exports are for text classification and named entities")
    return attr


# --------------------------------------------------------------------------- the linter


def lint_text(rows: list[TextRow], kind: str) -> tuple[list[TextRow], list[TextIssue]]:
    """Rows fit to export (entities that do not fit the text, or overlap for BIO, removed) and every issue."""
    issues: list[TextIssue] = []
    out = []
    for r in rows:
        if not r.labeled:
            issues.append(TextIssue(r.line, "unlabeled", "the line has no label for this attribute"))
            continue
        if kind != aug.NAMED_ENTITY:
            out.append(r)
            continue
        if r.text is None:
            issues.append(TextIssue(r.line, "no-text", "the text is in a file (source-ref): NER exports need source"))
            continue
        kept: list[Entity] = []
        for e in sorted(r.entities, key=lambda e: (e.start, -(e.end - e.start), e.label)):
            if not 0 <= e.start < e.end <= len(r.text):
                issues.append(TextIssue(r.line, "outside", f"{e.label} {e.start}-{e.end} is outside the text"))
            elif kept and e.start < max(k.end for k in kept):
                issues.append(TextIssue(r.line, "overlap", f"{e.label} {e.start}-{e.end} overlaps an entity kept"))
            else:
                kept.append(e)
        out.append(TextRow(r.pos, r.line, r.text, r.ref, r.labels, kept, r.confidence, r.human, r.label_order))
    return out, issues


# --------------------------------------------------------------------------- tokens and tags


def _joins(text: str, at: int) -> bool:
    """Whether the character at ``at`` continues the one before (a mark, a joiner, a variation selector, or the
    character after a zero-width joiner): such characters stay in one token."""
    ch = text[at]
    return ch in _JOINERS or unicodedata.category(ch)[0] == "M" or text[at - 1] == "\u200d"


def _words(text: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for m in _TOKEN.finditer(text):
        a, b = m.start(), m.end()
        glue = _joins(text, a) or (unicodedata.category(text[a - 1])[0] == "M" and text[a].isalnum()) if a else False
        if out and out[-1][1] == a and glue:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def tokens(text: str, cuts: set[int]) -> list[tuple[int, int]]:
    """Token ``(start, end)`` code-point offsets of ``text``, split at every offset in ``cuts``."""
    out = []
    for start, end in _words(text):
        a = start
        for c in sorted(x for x in cuts if start < x < end):
            out.append((a, c))
            a = c
        out.append((a, end))
    return out


def _tag_name(label: str) -> str:
    return re.sub(r"\s+", "_", label.strip()) or "_"


def bio_tags(toks: list[tuple[int, int]], entities: list[Entity]) -> list[str]:
    tags = ["O"] * len(toks)
    for e in entities:
        inside = [i for i, (a, b) in enumerate(toks) if a >= e.start and b <= e.end]
        for n, i in enumerate(inside):
            tags[i] = ("B-" if n == 0 else "I-") + _tag_name(e.label)
    return tags


def biluo(tags: list[str]) -> list[str]:
    out = []
    for i, t in enumerate(tags):
        if t == "O":
            out.append(t)
            continue
        nxt = tags[i + 1] if i + 1 < len(tags) else "O"
        begins, continues = t.startswith("B-"), nxt == "I-" + t[2:]
        out.append(("B-" if continues else "U-") if begins else ("I-" if continues else "L-"))
        out[-1] += t[2:]
    return out


def to_conll(rows: list[TextRow]) -> bytes:
    lines: list[str] = []
    for r in rows:
        assert r.text is not None
        lines += [DOCSTART, ""]
        offset = 0
        for sentence in r.text.split("\n"):
            ents = [Entity(e.label, e.start - offset, e.end - offset) for e in r.entities
                    if e.start >= offset and e.end <= offset + len(sentence)]  # fmt: skip
            toks = tokens(sentence, {x for e in ents for x in (e.start, e.end)})
            if toks:
                lines += [f"{sentence[a:b]} -X- _ {t}" for (a, b), t in zip(toks, bio_tags(toks, ents), strict=True)]
                lines.append("")
            offset += len(sentence) + 1
    return ("\n".join(lines).rstrip("\n") + "\n").encode("utf-8")


def _spacy_doc(r: TextRow, doc_id: int) -> dict[str, Any]:
    assert r.text is not None
    text = r.text
    toks = tokens(text, {x for e in r.entities for x in (e.start, e.end)})
    tags = biluo(bio_tags(toks, r.entities))
    sentences: list[dict[str, Any]] = [{"tokens": []}]
    for i, ((a, b), tag) in enumerate(zip(toks, tags, strict=True)):
        gap_end = toks[i + 1][0] if i + 1 < len(toks) else len(text)
        gap = text[b:gap_end]
        sentences[-1]["tokens"].append({"orth": text[a:b], "space": gap.startswith(" "), "ner": tag})
        rest = gap[1:] if gap.startswith(" ") else gap
        if rest:  # other whitespace: a token of its own (spaCy keeps it), a line break ends the sentence
            sentences[-1]["tokens"].append({"orth": rest, "space": False, "ner": "O"})
        if "\n" in gap and i + 1 < len(toks):
            sentences.append({"tokens": []})
    lead = text[: toks[0][0]] if toks else text
    if lead:
        sentences[0]["tokens"].insert(0, {"orth": lead, "space": False, "ner": "O"})
    return {"id": doc_id, "paragraphs": [{"raw": text, "sentences": [s for s in sentences if s["tokens"]]}]}


def to_spacy(rows: list[TextRow]) -> bytes:
    return json.dumps([_spacy_doc(r, i) for i, r in enumerate(rows)], ensure_ascii=False, indent=1).encode("utf-8")


def safe_cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text: formula-like starts get a leading apostrophe."""
    return "'" + value if value.startswith(FORMULA_START) else value


def to_jsonl(rows: list[TextRow], multi: bool) -> bytes:
    out = []
    for r in rows:
        rec: dict[str, Any] = {"text": r.text}
        rec["labels" if multi else "label"] = r.labels if multi else (r.labels[0] if r.labels else None)
        rec.update({"line": r.line, "confidence": r.confidence, "human-annotated": "yes" if r.human else "no"})
        if r.ref:
            rec["source-ref"] = r.ref
        out.append(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(out) + "\n").encode("utf-8") if out else b""


def to_csv(rows: list[TextRow], multi: bool) -> bytes:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["line", "text", "labels" if multi else "label", "confidence", "human_annotated", "source_ref"])
    for r in rows:
        cells = [str(r.line), r.text or "", "|".join(r.labels), "" if r.confidence is None else repr(r.confidence),
                 "yes" if r.human else "no", r.ref]  # fmt: skip
        w.writerow([safe_cell(c) for c in cells])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def export_text(manifest: AugmentedManifest, attribute: str | LabelAttribute | None, fmt: str) -> TextExport:
    """Lint then build the export files of a text attribute (see the module docstring)."""
    attr = text_attribute(manifest, attribute)
    allowed = TEXT_FORMATS[attr.type]
    if fmt not in allowed:
        raise ValidationError([Problem(f"{attr.name} ({attr.type}) exports as {' or '.join(allowed)}, not {fmt!r}",
                                       field="format")])  # fmt: skip
    rows, issues = lint_text(text_rows(manifest, attr), attr.type)
    multi = attr.type == aug.TEXT_MULTI_LABEL
    files = {
        "conll": lambda: {"ner.conll": to_conll(rows)},
        "spacy": lambda: {"ner.json": to_spacy(rows)},
        "jsonl": lambda: {"labels.jsonl": to_jsonl(rows, multi)},
        "csv": lambda: {"labels.csv": to_csv(rows, multi)},
    }[fmt]()
    return TextExport(fmt, files, issues, len(rows))
