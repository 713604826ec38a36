"""Drafts (a worker's saved work in progress): what counts as empty, and the rule that an empty draft never
overwrites saved work the caller's screen did not hold (``queue.save_draft(..., replaces=...)``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gtcore.core.errors import TaskError


def is_empty(draft: Any) -> bool:
    """True for a draft that holds no work: None, ``{}``, or answer bodies whose boxes / labels / label are
    all empty (``inputImageProperties`` is not work)."""
    if not isinstance(draft, dict):
        return draft is None
    for body in draft.values():
        if not isinstance(body, dict):
            return False
        if any(v not in (None, [], {}, "") for k, v in body.items() if k != "inputImageProperties"):
            return False
    return True


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return {"unreadable": text}  # not empty: never overwritten by an empty draft


def keep_work(replaces: dict | None) -> Callable[[Any], dict[str, Any]]:
    """A check for an empty draft about to be saved over the assignment ``row``: refused (TaskError) when the
    stored draft holds work and is not ``replaces``. Returns ``{"seen": <stored text>}`` so the UPDATE can
    require it unchanged."""

    def check(row: Any) -> dict[str, Any]:
        stored = _loads(row.draft_json)
        if is_empty(stored) or stored == replaces:
            return {"seen": row.draft_json}
        raise TaskError(
            f"not saved: an empty drawing would erase the saved work on object {row.object_idx} of job "
            f"{row.job_name}; open the task again to see it"
        )

    return check
