"""The text of text task types (classification, NER): inline ``source`` or a ``source-ref`` to a UTF-8 text file.

Ground Truth's text tasks read ``source`` (the text itself, inline, reference 1.4 / 3.1). We also accept a
``source-ref`` naming a text file in an allowed root (local folder or S3 bucket): its content is the text.
The same rules hold for both, so a text is usable on the worker screen and in the output:

- not empty and not only whitespace;
- at most ``MAX_TEXT_CHARS`` characters (20,000: Ground Truth's limit for one manifest attribute, section 9);
- a file must be UTF-8 (a leading byte-order mark is dropped) and at most ``MAX_TEXT_BYTES`` bytes;
- no NUL characters (nothing a person could read; they also break CSV and CoNLL exports).

``text_source_problems`` checks every line of a manifest and names the line and the field (``source`` or
``source-ref``); ``read_text_source`` reads one file for the worker screen and the preview.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gtcore.core.errors import GTError, Problem, StorageError, ValidationError

MAX_TEXT_CHARS = 20_000
MAX_TEXT_BYTES = 4 * MAX_TEXT_CHARS + 3  # every character at most 4 UTF-8 bytes, plus a byte-order mark
_MAX_REPORTED = 100
_BOM = "\ufeff"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be a text object (None when it can)."""
    if not text.strip():
        return "is empty or only whitespace: there is no text to label"
    if len(text) > MAX_TEXT_CHARS:
        return f"is {len(text):,} characters long; a text object holds at most {MAX_TEXT_CHARS:,}"
    if "\x00" in text:
        return f"holds a NUL character at offset {text.index(chr(0))}"
    return None


def decode_text(data: bytes, where: str) -> str:
    """UTF-8 bytes of a text file -> its text; ValidationError naming the line and byte when not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValidationError(
            [Problem(f"not UTF-8: undecodable byte 0x{data[exc.start]:02x} at byte {exc.start + 1}", where, line)],
            summary=f"{where} is not a UTF-8 text file",
        ) from None
    return text.removeprefix(_BOM)


def read_text_source(storage: Any, uri: str) -> str:
    """The text of the file at ``uri`` (checked as above).

    Raises:
        StorageError: the URI is not allowed, the file cannot be read or is over ``MAX_TEXT_BYTES``.
        ValidationError: not UTF-8, empty, too long (the problem names the file).
    """
    norm = storage.normalize(uri)
    data = storage.read_bytes(norm, max_bytes=MAX_TEXT_BYTES)  # a larger file: StorageError naming its size
    text = decode_text(data, norm)
    if (why := text_problem(text)) is not None:
        raise ValidationError([Problem(f"the file {why}", norm)], summary=f"{norm} cannot be labeled")
    return text


def line_text(line: Mapping[str, Any]) -> str | None:
    """The inline text of a manifest line (``source``), None when it has a ``source-ref`` instead."""
    src = line.get("source")
    return src if isinstance(src, str) else None


def text_source_problems(
    records: Sequence[Mapping[str, Any]],
    storage: Any,
    where: str,
    *,
    read_files: bool = True,
    line_numbers: Sequence[int] | None = None,
) -> list[Problem]:
    """Every line whose text is unusable, naming the line and the field (at most 100, then a count).

    ``source-ref`` files are read and checked when ``read_files`` is true (they must be allowed URIs; the
    manifest parser already refused ones outside the allowed roots). ``line_numbers`` gives each record's file
    line when the records are not the file's lines one for one (lines with other problems left out).
    """
    problems: list[Problem] = []
    bad = 0

    def add(message: str, lineno: int, field: str) -> None:
        nonlocal bad
        bad += 1
        if bad <= _MAX_REPORTED:
            problems.append(Problem(message, where, lineno, field))

    for i, rec in enumerate(records):
        lineno = line_numbers[i] if line_numbers is not None and i < len(line_numbers) else i + 1
        src = rec.get("source")
        if isinstance(src, str):
            why = text_problem(src)
            if why is not None:
                add(f"source {why}", lineno, "source")
            continue
        ref = rec.get("source-ref")
        if not isinstance(ref, str):
            add("has no text: give source (the text inline) or source-ref (a UTF-8 text file)", lineno, "source")
            continue
        if not read_files:
            continue
        try:
            read_text_source(storage, ref)
        except ValidationError as exc:
            first = exc.problems[0] if exc.problems else None
            detail = first.message if first else str(exc)
            at = f" (line {first.line} of the file)" if first is not None and first.line else ""
            add(f"source-ref {ref}: {detail}{at}", lineno, "source-ref")
        except (StorageError, GTError) as exc:
            add(f"source-ref {ref} cannot be read: {exc}", lineno, "source-ref")
    if bad > _MAX_REPORTED:
        problems.append(Problem(f"{bad - _MAX_REPORTED} more line(s) with unusable text", where))
    return problems
