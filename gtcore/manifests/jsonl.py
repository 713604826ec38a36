"""Manifests: JSON Lines in and out, and validation that reports every bad line.

A Ground Truth manifest is UTF-8 JSON Lines: one JSON object per line, lines ended by ``\\n`` or
``\\r\\n``. An input line holds ``source-ref`` (a storage URI) or ``source`` (inline text); any
other keys pass through. Limits: 100,000 characters per line, 20,000 per attribute, no attribute
name beginning with ``$``. Output ("augmented") manifests are input lines with label attributes
added, so the same rules validate both.

Ground Truth writes compact JSON (no spaces after ``,`` and ``:``), raw UTF-8, LF line endings and
a newline after the last line; :func:`dumps_line` and :func:`write_manifest` do the same.

The parser and validator (``parse_manifest_lines``, re-exported here, lean enough for 100,000-line manifests)
live in ``gtcore.manifests.lines``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gtcore.core.errors import ManifestError, Problem
from gtcore.manifests.lines import ENCODER, MAX_ATTRIBUTE_CHARS, MAX_LINE_CHARS, parse_manifest_lines
from gtcore.manifests.source_refs import UriChecker
from gtcore.storage.store import OverlongLine

__all__ = [
    "MAX_ATTRIBUTE_CHARS",
    "MAX_LINE_CHARS",
    "UriChecker",
    "dumps_line",
    "load_manifest",
    "manifest_text",
    "parse_manifest_lines",
    "read_manifest",
    "split_lines",
    "validate_manifest",
    "write_manifest",
]


def dumps_line(obj: dict) -> str:
    """One manifest line as Ground Truth writes it: compact JSON, raw UTF-8, no newline.

    Raises ManifestError if ``obj`` is not a dict or holds NaN/Infinity (not valid JSON).
    """
    if not isinstance(obj, dict):
        raise ManifestError([Problem(f"a manifest line must be a JSON object, got {type(obj).__name__}")])
    try:
        return ENCODER.encode(obj)
    except ValueError as exc:
        raise ManifestError([Problem(f"cannot write this record as JSON: {exc}")]) from None


def split_lines(data: bytes) -> list[str] | list[bytes]:
    """A manifest's bytes as lines for :func:`parse_manifest_lines` (``str`` when it is all UTF-8)."""
    try:
        return data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return data.split(b"\n")


def stream_lines(storage: Any, uri: str) -> list[str] | list[bytes]:
    """A manifest's lines as :func:`split_lines` gives them, read as a stream: a line over the limit is kept
    only as its first bytes and its length (``OverlongLine``), so a 1 GB line never sits in memory."""
    raw: list[bytes] = []
    ended = False
    for line in storage.raw_lines(uri, MAX_LINE_CHARS * 4):  # UTF-8: at most 4 bytes a character
        ended = line.endswith(b"\n") and not isinstance(line, OverlongLine)
        raw.append(line[:-1] if ended else line)
    if ended:
        raw.append(b"")
    try:
        return [b if isinstance(b, OverlongLine) else b.decode("utf-8") for b in raw]  # type: ignore[return-value]
    except UnicodeDecodeError:
        return raw


def load_manifest(
    storage: Any, uri: str, *, check_uris: bool = True, require_source: bool = True, keep: bool = True
) -> tuple[list[dict], list[Problem]]:
    """Read a manifest from storage and parse it: ``(records without problems, problems)``.

    Storage errors (missing object, URI not allowed) raise; content problems are returned.
    ``keep=False`` returns no records (validation only: faster and lighter on big manifests).
    """
    lines = stream_lines(storage, uri)
    check = UriChecker(storage.normalize) if check_uris else None
    return parse_manifest_lines(lines, where=uri, check_uri=check, require_source=require_source, keep=keep)


def read_manifest(storage: Any, uri: str) -> list[dict]:
    """Every record of the manifest at ``uri``; raises ManifestError listing every problem if any."""
    records, problems = load_manifest(storage, uri)
    if problems:
        raise ManifestError(problems, summary=f"{uri}: {len(problems)} problem(s) in the manifest")
    return records


def validate_manifest(storage: Any, uri: str) -> list[Problem]:
    """Every problem in the manifest at ``uri`` (empty when it is clean); raises only for storage errors."""
    return load_manifest(storage, uri, keep=False)[1]


def manifest_text(records: Iterable[dict]) -> str:
    """The text of a manifest: one :func:`dumps_line` per record, each followed by ``\\n``."""
    return "".join([dumps_line(r) + "\n" for r in records])


def write_manifest(storage: Any, uri: str, records: Iterable[dict]) -> None:
    """Write ``records`` as a manifest at ``uri`` in one atomic write (nothing half-written)."""
    storage.write_text(uri, manifest_text(records))
