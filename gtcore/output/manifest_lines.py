"""One output-manifest line from an objects row and its encoded record (``gtcore.output.writer``).

Manifest lines keep input order; an augmented line is the input line with every key kept plus ``<attr>`` /
``<attr>-metadata``: the stored input text with the label pair appended, so the input's own bytes (escapes,
key order) survive. A line that may already hold the attribute (or has ``\\u`` escapes that could hide it)
is parsed and the pair overwritten in place instead. An unlabelled line is written exactly as stored.
"""

from __future__ import annotations

import json
from typing import Any

from gtcore.manifests.jsonl import dumps_line


def record_of(row: Any, encoded: dict[int, str], *, use_stored: bool) -> str | None:
    """The encoded record a row's line gets: this run's, else a machine label (automated data labeling; stored,
    never consolidated), else (``use_stored``: intermediate manifests) a completed object's stored result."""
    enc = encoded.get(row.idx)
    if enc is None and (row.status == "machine" or (use_stored and row.status == "done")):
        enc = row.consolidated_json
    return enc


def merged_line(line_json: str, enc: str, attr: str) -> str:
    """``line_json`` with the record ``enc`` (compact JSON of the label pair) merged in; no newline."""
    base = line_json.rstrip()
    if '"' + attr in base or "\\u" in base or not base.endswith("}"):
        merged = json.loads(base)
        merged.update(json.loads(enc))
        return dumps_line(merged)
    return base[:-1] + ("," if base[:-1].strip() != "{" else "") + enc[1:]


def chunk_lines(rows: list[Any], encoded: dict[int, str], attr: str, *, labelled_only: bool, use_stored: bool) -> str:
    """The manifest text of a chunk of rows (idx order), newline-terminated lines.

    ``labelled_only`` (the final manifest of a stopped or failed job): only labelled lines, plus ``skipped``
    ones (chained with the same attribute: already labelled)."""
    out: list[str] = []
    for r in rows:
        enc = record_of(r, encoded, use_stored=use_stored)
        if enc is None:
            if not labelled_only or r.status == "skipped":
                out.append(r.line_json.rstrip("\r\n"))
            continue
        out.append(merged_line(r.line_json, enc, attr))
    return "".join(s + "\n" for s in out)
