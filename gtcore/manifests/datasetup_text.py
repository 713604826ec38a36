"""Automated data setup for text (reference 3.3): ``.txt`` files give one object per line, ``.csv`` files one
object per row, and the input manifest gets one ``{"source":"<text>"}`` line per object.

Files are read in key order (as S3 lists them), lines in file order. Every problem is collected and named by
file and line (row for CSV) before anything is written, so a bad file leaves no half-made manifest:

- a file that is not UTF-8 (the line and byte of the first bad byte);
- an empty or whitespace-only line inside a ``.txt`` file (the final line break ends the last line, it does
  not make an empty one; ``\\r\\n`` is accepted);
- a line longer than 20,000 characters (``text_sources.MAX_TEXT_CHARS``: one manifest attribute);
- a CSV row with more than one cell (our rule: one text per row, so a header or an id column is not silently
  taken as text; a quoted cell may hold commas and line breaks), or an empty one;
- more than 100,000 objects in all (the objects limit of a labeling job).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from gtcore.core.errors import ManifestError, Problem, ValidationError
from gtcore.manifests.datasetup import PREVIEW_LINES, DataSetup, manifest_name
from gtcore.manifests.jsonl import dumps_line
from gtcore.manifests.text_sources import MAX_TEXT_CHARS, decode_text, text_problem

TEXT_SUFFIXES = (".txt", ".csv")
MAX_OBJECTS = 100_000
MAX_FILE_BYTES = 512 * 1024 * 1024
_MAX_REPORTED = 200


def text_file_uris(storage: Any, prefix_uri: str) -> list[str]:
    """Every .txt/.csv (any case) under the prefix, recursively, sorted by key."""
    prefix = storage.normalize(prefix_uri)
    if not prefix.endswith("/"):
        prefix += "/"
    return list(storage.list(prefix, suffixes=TEXT_SUFFIXES))


def _txt_items(text: str, where: str, add: Any) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the line break that ends the last line
    out = []
    for n, raw in enumerate(lines, 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        why = text_problem(line)
        if why is not None:
            add(Problem(f"the line {why}", where, n, "line"))
            continue
        out.append(line)
    return out


def _csv_items(text: str, where: str, add: Any) -> list[str]:
    out = []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            n = reader.line_num  # the file line where the row ends
            if len(row) != 1:
                what = "is empty" if not row else f"has {len(row)} cells"
                add(Problem(f"the row {what}; give one text per row (one cell, quoted if it holds commas)",
                            where, n, "row"))  # fmt: skip
                continue
            why = text_problem(row[0])
            if why is not None:
                add(Problem(f"the row's text {why}", where, n, "row"))
                continue
            out.append(row[0])
    except csv.Error as exc:
        add(Problem(f"not readable as CSV: {exc}", where, reader.line_num + 1, "row"))
    return out


def text_items(storage: Any, uris: list[str]) -> tuple[list[str], list[Problem]]:
    """The texts of the files (in order) and every problem found (the texts of bad lines are left out)."""
    problems: list[Problem] = []
    texts: list[str] = []

    def add(p: Problem) -> None:
        problems.append(p)

    for uri in uris:
        data = storage.read_bytes(uri, max_bytes=MAX_FILE_BYTES)
        try:
            text = decode_text(data, uri)
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        found = _csv_items(text, uri, add) if uri.lower().endswith(".csv") else _txt_items(text, uri, add)
        texts.extend(found)
        if len(texts) > MAX_OBJECTS:
            break
    return texts, problems


def generate_text_manifest(
    storage: Any, prefix_uri: str, output_uri: str | None = None, *, now: datetime | None = None
) -> DataSetup:
    """Read every .txt/.csv under ``prefix_uri`` and write an input manifest of ``{"source": text}`` lines.

    Raises:
        ManifestError: no text files, any bad line (every one named), or more than 100,000 objects;
            nothing is written then.
        StorageError: the prefix or output is not allowed, or the store fails.
    """
    uris = text_file_uris(storage, prefix_uri)
    if not uris:
        raise ManifestError(
            [Problem(f"no .txt or .csv files found under {prefix_uri}", where=prefix_uri)],
            summary=f"cannot set up text data from {prefix_uri}",
        )
    texts, problems = text_items(storage, uris)
    if len(texts) > MAX_OBJECTS:
        problems.append(
            Problem(f"more than {MAX_OBJECTS:,} texts under the prefix, the limit of objects per job", prefix_uri)
        )
    if not texts and not problems:
        problems.append(Problem("the text files hold no text", prefix_uri))
    if problems:
        shown = problems[:_MAX_REPORTED]
        if len(problems) > _MAX_REPORTED:
            shown.append(Problem(f"{len(problems) - _MAX_REPORTED} more problem(s)", prefix_uri))
        raise ManifestError(shown, summary=f"no manifest was written: {len(problems)} problem(s) in the text files")
    target = output_uri or storage.join(storage.normalize(prefix_uri), manifest_name(now))
    lines = [dumps_line({"source": t}) for t in texts]
    preview = [x[:500] for x in lines[:PREVIEW_LINES]]
    lines.append("")
    storage.write_text(target, "\n".join(lines))
    return DataSetup(manifest_uri=storage.normalize(target), count=len(texts), first_lines=preview)


__all__ = ["MAX_TEXT_CHARS", "TEXT_SUFFIXES", "generate_text_manifest", "text_file_uris", "text_items"]
