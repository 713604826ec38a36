"""A manifest read as a stream of chunks of lines, never whole: the viewer's index and the streamed exports.

``line_chunks`` cuts a stream of byte blocks into ``CHUNK_LINES`` raw lines at a time (``file_chunks`` does so
for a local file and notes where every line ends), ``parse_chunk`` parses one chunk as the whole-file reader
(:mod:`gtcore.manifests.augmented`) parses a file, with the problems' line numbers in the file, and
``survey_chunk`` adds a chunk's label attributes and class maps to what earlier chunks found.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gtcore.core.errors import ManifestError, Problem
from gtcore.core.gcpause import gc_paused
from gtcore.manifests import augmented as aug
from gtcore.manifests.label_values import tally_class_maps

CHUNK_LINES = 20_000
MAX_PROBLEMS = 1000  # problems listed one by one; the rest are counted
READ_BYTES = 1 << 20  # a local file is read this much at a time


def line_chunks(blocks: Iterable[bytes], size: int | None = None) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, raw lines) of ``size`` (default ``CHUNK_LINES``) lines each, from a stream of byte
    blocks; each line keeps its ``\\n`` (the last one may have none)."""
    size = size or CHUNK_LINES
    first, raw, pending = 1, [], b""
    for block in blocks:
        parts = (pending + block).split(b"\n")
        pending = parts.pop()
        for line in parts:
            raw.append(line + b"\n")
            if len(raw) == size:
                yield first, raw
                first, raw = first + size, []
    if pending:
        raw.append(pending)
    if raw:
        yield first, raw


def file_chunks(path: Path, ends: Any) -> Iterator[tuple[int, list[bytes]]]:
    """:func:`line_chunks` of the local file at ``path``; appends each line's end (a byte offset) to ``ends``."""
    pos = 0
    with open(path, "rb") as f:
        for first, raw in line_chunks(iter(lambda: f.read(READ_BYTES), b"")):
            for line in raw:
                pos += len(line)
                ends.append(pos)
            yield first, raw


def parse_chunk(first: int, raw: list[bytes], where: str, problems: list[Problem]) -> tuple[list[dict], list[int]]:
    """The records of the chunk whose first line is ``first``, and their line numbers; problems are added to
    ``problems`` with their line in the file."""
    data = b"".join(raw)
    if first == 1:
        data = data.removeprefix(b"\xef\xbb\xbf")
    mine: list[Problem] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first + data.count(b"\n", 0, exc.start)
        mine.append(Problem("not UTF-8 (undecodable bytes read as U+FFFD)", where, line))
        text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    fast = aug._FAST_LOADS if data.translate(aug._DIGITS_TO_ZERO).find(aug._LONG_RUN) < 0 else None
    with gc_paused():
        records, numbers = aug._parse_lines(lines, where, mine, fast)
    problems.extend(dataclasses.replace(p, line=(p.line or 1) + first - 1) if p.line else p for p in mine)
    return records, [n + first - 1 for n in numbers]


def survey_chunk(records: list[dict], tally: aug.AttributeTally, maps: dict[str, dict[Any, int]]) -> None:
    """Add the label attributes (``tally``) and the class maps of every attribute (``maps``) of ``records``."""
    aug.tally_attributes(records, tally)
    for name in tally:
        tally_class_maps(records, name, maps.setdefault(name, {}))


def nothing_to_show(problems: list[Problem], where: str) -> ManifestError:
    """The error of a file without one readable record: its problems, or that it is empty."""
    return ManifestError(problems[:MAX_PROBLEMS] or [Problem("the manifest is empty", where)],
                         summary=f"{where}: nothing to show")  # fmt: skip
