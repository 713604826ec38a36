"""JSON for the output hot path: orjson where it gives exactly the standard library's result, else the library.

``loads`` parses with orjson (about 3x faster than ``json.loads``) unless the text holds a run of 19 or more
digits (orjson turns integers beyond 64 bits into floats) or orjson refuses it (NaN, Infinity, lone
surrogates): then ``json.loads`` decides, so the result is always what ``json.loads`` gives. The checks are
plain byte scans (a regular expression costs more than the parse); ``loads_many`` / ``dumps_many`` run them
once per chunk of texts.

``dumps_line`` returns the same text as ``gtcore.manifests.jsonl.dumps_line`` (compact, raw UTF-8, no NaN), about 4x
faster. orjson's output is byte-identical to the standard encoder's except for floats in exponent form
(``1e-05`` vs ``0.00001``, ``1e+16`` vs ``1e16``), non-finite floats (orjson writes ``null``), integers
beyond 64 bits and non-string keys (orjson refuses). So orjson's text is kept only when it holds no digit
followed by ``e``, no number starting ``0.0000`` (a float below 1e-4 written out) and no ``null``; anything
else (including harmless look-alikes inside strings) is encoded again by the standard library.
tests/test_fastjson.py checks the equality on many random records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gtcore.manifests import jsonl as manifest

_orjson_loads: Callable[[str | bytes], Any] | None
_orjson_dumps: Callable[[Any], bytes] | None
try:  # optional dependency; the standard library is the reference
    from orjson import dumps as _orjson_dumps
    from orjson import loads as _orjson_loads
except ImportError:  # pragma: no cover - depends on the installation
    _orjson_loads = _orjson_dumps = None

_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")  # every digit becomes "0": a digit run is a "0" run
_LONG_RUN = b"0" * 19
CHUNK = 5000  # texts checked together by the *_many functions (one C pass over the joined chunk)


def _long_digits(data: bytes) -> bool:
    """Whether ``data`` holds 19 or more digits in a row (orjson would turn such an integer into a float)."""
    return data.translate(_TO_ZERO).find(_LONG_RUN) >= 0


_SMALL = (b":0.0000", b",0.0000", b"[0.0000", b"-0.0000")


def _suspicious(raw: bytes) -> bool:
    return (
        b"null" in raw
        or any(p in raw for p in _SMALL)  # a number token starting "0.0000" (not 400.00000000000006)
        or b"0e" in raw.translate(_TO_ZERO)
    )


def _differs(raw: bytes, known: Sequence[bytes] = ()) -> bool:
    """Whether orjson's text may differ from the standard encoder's: a digit followed by ``e`` (exponent),
    a number starting ``0.0000`` (a float below 1e-4 written out) or ``null`` (maybe a NaN). ``known``: JSON
    string literals (quotes included) taken out before a second look, so a job name like
    ``"labeling-job/v1e"`` is no false alarm."""
    if not _suspicious(raw):
        return False
    if not known:
        return True
    for lit in known:
        raw = raw.replace(lit, b'""')
    return _suspicious(raw)


def _orjson_or_json(text: str) -> Any:
    try:
        return _orjson_loads(text)  # type: ignore[misc]
    except ValueError:  # orjson.JSONDecodeError: NaN, Infinity, surrogates... the library decides
        return json.loads(text)


def loads(text: str) -> Any:
    """``json.loads(text)``, faster when orjson is installed."""
    if _orjson_loads is None or _long_digits(text.encode("utf-8", "surrogatepass")):
        return json.loads(text)
    return _orjson_or_json(text)


def loads_many(texts: Sequence[str]) -> list[Any]:
    """``[json.loads(t) for t in texts]``, checking the texts for long digit runs a chunk at a time."""
    if _orjson_loads is None:
        return [json.loads(t) for t in texts]
    out: list[Any] = []
    for k in range(0, len(texts), CHUNK):
        part = texts[k : k + CHUNK]
        if _long_digits("\n".join(part).encode("utf-8", "surrogatepass")):
            out.extend(loads(t) for t in part)
        else:
            out.extend(_orjson_or_json(t) for t in part)
    return out


_STRUCTURE = frozenset(',:[]{}"\\')


def _literals(strings: Iterable[str]) -> list[bytes]:
    """JSON literals of the known strings; a string holding JSON punctuation is left out, so a literal can
    only match a whole string token of the text (never a stretch running across numbers)."""
    out = []
    for text in strings:
        if _STRUCTURE.intersection(text):
            continue
        try:
            out.append(_orjson_dumps(text))  # type: ignore[misc]
        except TypeError:  # a lone surrogate: cannot be in orjson's output anyway
            continue
    return out


def dumps_line(obj: dict[str, Any], *, known_strings: Iterable[str] = ()) -> str:
    """``gtcore.manifests.jsonl.dumps_line(obj)`` (same text, same ManifestError), faster when orjson is installed.

    ``known_strings``: strings the caller knows may be in ``obj`` (job name, labels, attribute names); a
    digit followed by ``e`` inside one of them then does not send ``obj`` to the slow path.
    """
    if _orjson_dumps is not None and type(obj) is dict:
        try:
            raw = _orjson_dumps(obj)
        except TypeError:  # big integers, non-string keys, surrogates: the library decides
            return manifest.dumps_line(obj)
        if not _differs(raw, _literals(known_strings)):
            return raw.decode("utf-8")
    return manifest.dumps_line(obj)


def dumps_many(objs: Sequence[dict[str, Any]], *, known_strings: Iterable[str] = ()) -> list[str]:
    """``[dumps_line(o) for o in objs]``, checking orjson's texts a chunk at a time (``known_strings`` as
    for ``dumps_line``)."""
    if _orjson_dumps is None:
        return [manifest.dumps_line(o) for o in objs]
    known = _literals(known_strings)
    out: list[str] = []
    for k in range(0, len(objs), CHUNK):
        part = objs[k : k + CHUNK]
        try:
            raws = [_orjson_dumps(o) for o in part]
        except TypeError:
            raws = []
        if raws and all(type(o) is dict for o in part) and not _differs(b"\n".join(raws), known):
            out.extend(r.decode("utf-8") for r in raws)
            continue
        for o in part:  # one by one: only the records that may differ take the library's encoder
            try:
                raw = _orjson_dumps(o) if type(o) is dict else None
            except TypeError:
                raw = None
            out.append(raw.decode("utf-8") if raw is not None and not _differs(raw, known) else manifest.dumps_line(o))
    return out
