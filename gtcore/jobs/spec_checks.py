"""Field checks for request validation: collect every Problem with its dotted field path, never stop early.

Used by ``gtcore.jobs.spec`` (the CreateLabelingJob-shaped request). Each check returns the value when it is
valid (``None`` otherwise) and records a ``Problem`` naming the field, e.g. ``HumanTaskConfig.TaskTitle``.
Constraints mirror the SageMaker API model (botocore ``sagemaker/2017-07-24``), see
groundtruth-reference.md section 4.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from gtcore.core.errors import Problem

_TAG_EXTRA = set("_.:/=+-@")

NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"

ATTRIBUTE_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}"


def tag_text_ok(text: str) -> bool:
    """The Tags pattern ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*`` (Python's ``re`` has no ``\\p{..}``)."""
    return all(ch in _TAG_EXTRA or unicodedata.category(ch)[0] in "LZN" for ch in text)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Checker:
    """Collects problems for one request. ``where`` names the file the request came from (may be empty)."""

    def __init__(self, where: str = "") -> None:
        self.where = where
        self.problems: list[Problem] = []

    def add(self, field: str, message: str) -> None:
        self.problems.append(Problem(message, where=self.where, field=field))

    @staticmethod
    def path(parent: str, key: str) -> str:
        return f"{parent}.{key}" if parent else key

    def known_keys(self, obj: dict[str, Any], allowed: Iterable[str], parent: str) -> None:
        """Unknown keys are reported like the AWS CLI does ("Unknown parameter"), so typos do not pass silently."""
        allowed = tuple(allowed)
        for key in obj:
            if key not in allowed:
                self.add(
                    self.path(parent, str(key)),
                    f"unknown parameter; {parent or 'the request'} accepts: {', '.join(allowed)}",
                )

    def obj(self, parent: dict[str, Any], key: str, field: str, *, required: bool) -> dict[str, Any] | None:
        if key not in parent or parent[key] is None:
            if required:
                self.add(field, "required")
            return None
        value = parent[key]
        if not isinstance(value, dict):
            self.add(field, f"must be an object, not {_kind(value)}")
            return None
        return value

    def string(
        self,
        parent: dict[str, Any],
        key: str,
        field: str,
        *,
        required: bool,
        min_len: int = 0,
        max_len: int | None = None,
        pattern: str | None = None,
        pattern_help: str = "",
    ) -> str | None:
        if key not in parent or parent[key] is None:
            if required:
                self.add(field, "required")
            return None
        return self.check_text(
            parent[key], field, min_len=min_len, max_len=max_len, pattern=pattern, pattern_help=pattern_help
        )

    def check_text(
        self,
        value: Any,
        field: str,
        *,
        min_len: int = 0,
        max_len: int | None = None,
        pattern: str | None = None,
        pattern_help: str = "",
    ) -> str | None:
        if not isinstance(value, str):
            self.add(field, f"must be a string, not {_kind(value)}")
            return None
        ok = True
        if len(value) < min_len:
            self.add(field, "must not be empty" if min_len == 1 else f"must have at least {min_len} characters")
            ok = False
        if max_len is not None and len(value) > max_len:
            self.add(field, f"is {len(value)} characters long; the limit is {max_len}")
            ok = False
        if ok and pattern is not None and value and not re.fullmatch(pattern, value):
            hint = f" ({pattern_help})" if pattern_help else ""
            self.add(field, f"{_short(value)} does not match the pattern {pattern}{hint}")
            ok = False
        return value if ok else None

    def integer(
        self,
        parent: dict[str, Any],
        key: str,
        field: str,
        *,
        required: bool,
        lo: int | None = None,
        hi: int | None = None,
    ) -> int | None:
        if key not in parent or parent[key] is None:
            if required:
                self.add(field, "required")
            return None
        value = parent[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(field, f"must be a whole number, not {_kind(value)} {_short(value)}")
            return None
        if lo is not None and value < lo:
            self.add(field, f"is {value}; the minimum is {lo}" + (f" (range {lo}-{hi})" if hi is not None else ""))
            return None
        if hi is not None and value > hi:
            self.add(field, f"is {value}; the maximum is {hi}" + (f" (range {lo}-{hi})" if lo is not None else ""))
            return None
        return value

    def items(
        self,
        parent: dict[str, Any],
        key: str,
        field: str,
        *,
        required: bool,
        min_items: int = 0,
        max_items: int | None = None,
    ) -> list[Any] | None:
        if key not in parent or parent[key] is None:
            if required:
                self.add(field, "required")
            return None
        value = parent[key]
        if not isinstance(value, list):
            self.add(field, f"must be a list, not {_kind(value)}")
            return None
        if len(value) < min_items:
            self.add(field, f"has {len(value)} item(s); at least {min_items} required")
            return None
        if max_items is not None and len(value) > max_items:
            self.add(field, f"has {len(value)} items; the limit is {max_items}")
            return None
        return value

    def enum(self, value: Any, field: str, allowed: Iterable[str]) -> str | None:
        allowed = tuple(allowed)
        if not isinstance(value, str) or value not in allowed:
            self.add(field, f"{_short(value)} is not one of: {', '.join(allowed)}")
            return None
        return value
