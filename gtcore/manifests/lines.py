"""Checking manifest lines: ``parse_manifest_lines`` parses JSON Lines and reports every bad line (one Problem per
problem, with its line and field), the rules of ``gtcore.manifests.jsonl``'s docstring.

It is written to be lean (it runs over 100,000-line manifests): the line length is checked before parsing,
attribute sizes are measured only on lines long enough for one attribute to pass the limit, ``$`` keys are looked
for only when the raw line could contain one, and S3 URIs are checked once per bucket and local folder (see
:class:`gtcore.manifests.source_refs.UriChecker`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from itertools import chain
from typing import Any

from gtcore.core.errors import GTError, Problem
from gtcore.manifests.source_refs import UriChecker
from gtcore.storage.store import OverlongLine

MAX_LINE_CHARS = 100_000
MAX_ATTRIBUTE_CHARS = 20_000

# Re-serialising a value can make it longer than it was written: the worst case is a float such as
# ``1e15`` (4 characters) that Python writes as ``1000000000000000.0`` (18). So no attribute of a line
# shorter than MAX_ATTRIBUTE_CHARS / 4.5 can pass the limit, and such lines skip the measurement.
_ATTRIBUTE_CHECK_FROM = int(MAX_ATTRIBUTE_CHARS / 4.5)
_BOM = "\ufeff"
_BOM_BYTES = _BOM.encode("utf-8")
_BLANK = "blank line (every line must hold one JSON object)"
# source-refs ending like this go through the full checks (empty, folder, whitespace, "." / "..")
_SLOW_ENDINGS = "/. \t\r\n\f\v"


class _NotJson(ValueError):
    """Raised by the decoder for the non-standard literals NaN, Infinity and -Infinity."""


def _reject_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not valid JSON (use null or a number)")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)  # Ground Truth's compact JSON


def _decode_error(exc: Exception) -> str:
    if isinstance(exc, _NotJson):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} at column {exc.colno}"
    return f"not valid JSON: {exc}"


def parse_manifest_lines(
    lines: Iterable[str | bytes],
    *,
    where: str = "",
    check_uri: Callable[[str], object] | None = None,
    require_source: bool = True,
    keep: bool = True,
) -> tuple[list[dict], list[Problem]]:
    """Parse and check manifest lines; collect every problem instead of stopping at the first.

    Args:
        lines: the lines, with or without their ``\\n`` / ``\\r\\n`` ends (``str.split("\\n")`` of a
            file and iterating over a file both work). ``bytes`` items are decoded as UTF-8 and
            undecodable ones reported. A byte-order mark at the start is dropped.
        where: the file or URI named in each Problem.
        check_uri: called with every ``source-ref``; a GTError it raises (``Storage.normalize``
            raises UriNotAllowed) becomes a problem carrying its message. Pass a :class:`UriChecker`
            for speed on large manifests.
        require_source: when true every line needs exactly one of ``source-ref`` and ``source``.
        keep: false to check only and return no records (bounded memory on huge manifests).

    Returns:
        ``(records, problems)``: the objects of the lines that have no problem, in file order, and
        one Problem (``line`` 1-based, ``field`` naming the key where there is one) per problem.
        An empty final item (the text after the last newline) is not a line; any other blank line
        is a problem.
    """
    return _parse(lines, where, check_uri, require_source, keep=keep)


def _parse(
    lines: Iterable[str | bytes],
    where: str,
    check_uri: Callable[[str], object] | None,
    require_source: bool,
    keep: bool,
) -> tuple[list[dict], list[Problem]]:
    records: list[dict] = []
    problems: list[Problem] = []
    add = problems.append
    keep_record = records.append
    decode = _DECODER.decode
    it = iter(lines)
    first = next(it, None)
    if not first:
        second = next(it, None)
        if first is None or second is None:
            return records, [Problem("the manifest is empty: it has no JSON lines", where)]
        it = chain([first, second], it)  # an empty first line with more after it: a blank line, reported below
    elif isinstance(first, str):
        it = chain([first.removeprefix(_BOM)], it)
    elif not isinstance(first, OverlongLine):
        it = chain([first.removeprefix(_BOM_BYTES)], it)
    else:
        it = chain([first], it)
    checker = check_uri if isinstance(check_uri, UriChecker) else None
    # None: no URI check at all; otherwise source-refs starting with one of these need no further check
    prefixes: tuple[str, ...] | None = None if check_uri is None else ()
    folders = checker.clean_folders if checker is not None else None
    pending_blank = 0
    for lineno, raw in enumerate(it, 1):
        if pending_blank:
            add(Problem(_BLANK, where, pending_blank))
            pending_blank = 0
        if isinstance(raw, OverlongLine):  # streamed: never held whole
            add(
                Problem(
                    f"line is {raw.length:,} bytes long; the limit is {MAX_LINE_CHARS:,} characters (not checked "
                    "further)",
                    where,
                    lineno,
                )
            )
            continue
        if isinstance(raw, str):
            line = raw
        else:
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                add(
                    Problem(
                        f"not UTF-8: undecodable byte 0x{raw[exc.start]:02x} at byte {exc.start + 1}", where, lineno
                    )
                )
                continue
        if not line:
            pending_blank = lineno  # only a problem if another line follows (else it ends the last line)
            continue
        n = len(line)
        if n > MAX_LINE_CHARS:
            n = len(line.rstrip("\r\n"))
            if n > MAX_LINE_CHARS:
                add(
                    Problem(
                        f"line is {n:,} characters long; the limit is {MAX_LINE_CHARS:,} (not checked further)",
                        where,
                        lineno,
                    )
                )
                continue
        try:
            obj = decode(line)
        except RecursionError:
            add(Problem("JSON nested too deeply to read", where, lineno))
            continue
        except ValueError as exc:
            add(Problem(_BLANK if line.isspace() else _decode_error(exc), where, lineno))
            continue
        if type(obj) is not dict:
            add(Problem(f"a line must be a JSON object, not {_json_kind(obj)}", where, lineno))
            continue
        # Fast path for the common line: a plain source-ref, short enough, no "$" keys possible, and no
        # backslash: JSON strings hold control characters only as escapes, so none is in source-ref.
        ref = obj.get("source-ref")
        if (
            type(ref) is str
            and "source" not in obj
            and n <= _ATTRIBUTE_CHECK_FROM
            and "$" not in line
            and "\\" not in line
            and ref[-1:] not in _SLOW_ENDINGS
            and (
                prefixes is None
                or (ref.startswith(prefixes) and "/." not in ref)
                or (folders is not None and ref.rpartition("/")[0] in folders)
            )
        ):
            if keep:
                keep_record(obj)
            continue
        before = len(problems)
        _check_record(obj, line, n, where, lineno, check_uri, require_source, add)
        if keep and len(problems) == before:
            keep_record(obj)
        if checker is not None:
            prefixes = checker.prefixes
    return records, problems


def _json_kind(obj: object) -> str:
    if isinstance(obj, list):
        return "an array"
    if isinstance(obj, str):
        return "a string"
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "a boolean"
    return "a number"


def _check_record(
    obj: dict,
    line: str,
    n: int,
    where: str,
    lineno: int,
    check_uri: Callable[[str], object] | None,
    require_source: bool,
    add: Callable[[Problem], None],
) -> None:
    has_ref = "source-ref" in obj
    has_src = "source" in obj
    if has_ref and has_src:
        add(Problem("has both source-ref and source; give exactly one", where, lineno))
    elif require_source and not (has_ref or has_src):
        add(Problem("has neither source-ref (an object URI) nor source (inline text)", where, lineno))
    if has_ref:
        ref = obj["source-ref"]
        if type(ref) is not str:
            add(Problem(f"source-ref must be a string URI, not {_json_kind(ref)}", where, lineno, "source-ref"))
        elif not ref.strip():
            add(Problem("source-ref is empty", where, lineno, "source-ref"))
        else:
            refused = False
            if check_uri is not None:  # first: "scheme 'http' is not allowed" says more than "names a folder"
                try:
                    check_uri(ref)
                except GTError as exc:
                    add(Problem(str(exc), where, lineno, "source-ref"))
                    refused = True
            if not refused and ref.endswith("/"):
                add(Problem(f"source-ref {ref!r} names a folder, not an object", where, lineno, "source-ref"))
    if has_src and type(obj["source"]) is not str:
        add(Problem(f"source must be a string (inline text), not {_json_kind(obj['source'])}", where, lineno, "source"))
    # A key beginning with "$" appears in the raw line as a literal "$" or as a \u escape.
    if "$" in line or "\\u" in line:
        for key in obj:
            if key.startswith("$"):
                add(Problem(f"attribute name {key!r} begins with '$', which is not allowed", where, lineno, key))
    if n > _ATTRIBUTE_CHECK_FROM:
        for key, value in obj.items():
            try:
                size = len(ENCODER.encode(value))
            except RecursionError:
                add(Problem("value cannot be measured: nested too deeply", where, lineno, key))
                continue
            except ValueError as exc:  # e.g. 1e400, read as infinity
                add(Problem(f"value cannot be written back as JSON: {exc}", where, lineno, key))
                continue
            if size > MAX_ATTRIBUTE_CHARS:
                add(
                    Problem(
                        f"attribute value is {size:,} characters of JSON; the limit is {MAX_ATTRIBUTE_CHARS:,}",
                        where,
                        lineno,
                        key,
                    )
                )
