"""Record that background work is due: ``enqueue`` (any layer, inside its own transaction).

The ``work_items`` table (``gtcore.core.db``) is the queue; ``gtcore.work.runner`` claims and runs the items in
``gtcore worker`` processes (and the app's embedded worker), ``gtcore.work.registry`` maps a kind to its handler.
A low layer (the queue's submit, a stop) never does heavy work itself: it enqueues in the same transaction as the
change that made the work due, so the work is recorded exactly when the change commits, and lost with it when it
rolls back.

Idempotent: while an item with the same (kind, job_id, key) is pending (not yet started), another enqueue adds
nothing; it moves the pending item's ``run_after`` earlier when asked for an earlier time. One statement
(``INSERT ... ON CONFLICT`` on the partial unique index ``uq_work_pending``), so two concurrent enqueues cannot
add two pending items.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from gtcore.core.db import Prepared

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATUSES = (PENDING, RUNNING, DONE, FAILED)


@dataclass(frozen=True)
class WorkItem:
    """One claimed item as a handler sees it."""

    id: int
    kind: str
    job_id: int | None
    key: str
    payload: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1  # this run included
    run_after: float = 0.0  # when it became due (work it splits into parts keeps its place in the queue)


_UPSERT = """
INSERT INTO work_items (kind, job_id, key, payload_json, status, attempts, run_after, created_at, updated_at)
VALUES (:kind, :job_id, :key, :payload, 'pending', 0, :run_after, :now, :now)
ON CONFLICT (kind, coalesce(job_id, 0), key) WHERE status = 'pending'
DO UPDATE SET run_after = {least}(work_items.run_after, excluded.run_after)
"""
_SQL = {  # hot (every stop, every finish, every retry): compiled once per process with the other hot statements
    "sqlite": Prepared(text(_UPSERT.format(least="min"))),
    "postgresql": Prepared(text(_UPSERT.format(least="least"))),
}


def enqueue(
    conn: Connection,
    kind: str,
    *,
    job_id: int | None = None,
    key: str = "",
    payload: dict | None = None,
    delay_seconds: float = 0.0,
    now: float | None = None,
) -> None:
    """Record that work of ``kind`` is due (after ``delay_seconds``). See the module docstring."""
    if not kind or len(kind) > 64:
        raise ValueError(f"work kind must be 1-64 characters, not {kind!r}")
    t = time.time() if now is None else now
    params = {
        "kind": kind,
        "job_id": job_id,
        "key": key[:200],
        "payload": json.dumps(payload or {}, separators=(",", ":"), sort_keys=True),
        "run_after": t + max(0.0, delay_seconds),
        "now": t,
    }
    _SQL[conn.dialect.name].run(conn, params)


_ADD = """
INSERT INTO work_items (kind, job_id, key, payload_json, status, attempts, run_after, created_at, updated_at)
VALUES {rows}
ON CONFLICT (kind, coalesce(job_id, 0), key) WHERE status = 'pending' DO NOTHING
"""
_ROW = "(:kind{i}, :job{i}, :key{i}, '{{}}', 'pending', 0, :run_after{i}, :now, :now)"
_ADD_SQL: dict[tuple[int, str | None], Prepared] = {}  # (item count, then) -> its statement


def enqueue_due(
    conn: Connection,
    items: Sequence[tuple[str, int | None, float]],
    *,
    now: float | None = None,
    then: str | None = None,
    then_params: dict[str, Any] | None = None,
) -> list[tuple]:
    """Record several kinds of work due at once (``(kind, job_id, delay_seconds)``, empty key and payload), in one
    statement: the hot path of the queue, where every settled object makes the same few items of its job due.

    Unlike ``enqueue`` an item already pending is left exactly as it is (``DO NOTHING``: the contract allows not
    moving ``run_after``), because on PostgreSQL ``DO UPDATE`` locks that pending row to the commit and so made
    every concurrent submit of a job wait for the one before it (the same pending rows of the job's kinds).

    ``then`` (PostgreSQL only): a query (SQL text, ``:name`` parameters from ``then_params``) sent in the same
    statement (the insert as a data-modifying CTE), to save its round trip; its rows are returned.
    """
    if not items and then is None:
        return []
    n = len(items)
    if (n, then) not in _ADD_SQL:
        insert = _ADD.format(rows=", ".join(_ROW.format(i=i) for i in range(n)))
        with_then = insert if then is None else f"WITH due AS ({insert}) {then}"
        _ADD_SQL[n, then] = Prepared(text(with_then if items else str(then)))
    t = time.time() if now is None else now
    params: dict[str, Any] = {"now": t, **(then_params or {})}
    for i, (kind, job_id, delay) in enumerate(items):
        if not kind or len(kind) > 64:
            raise ValueError(f"work kind must be 1-64 characters, not {kind!r}")
        params.update({f"kind{i}": kind, f"job{i}": job_id, f"key{i}": "", f"run_after{i}": t + max(0.0, delay)})
    return _ADD_SQL[n, then].run(conn, params)[0]


_KEYS = """
INSERT INTO work_items (kind, job_id, key, payload_json, status, attempts, run_after, created_at, updated_at)
VALUES (:kind, :job_id, :key, '{}', 'pending', 0, :due, :now, :now)
ON CONFLICT (kind, coalesce(job_id, 0), key) WHERE status = 'pending' DO NOTHING
"""


def enqueue_keys(
    conn: Connection, kind: str, job_id: int | None, keys: Sequence[str], *, due_at: float | None = None
) -> None:
    """Record one item of ``kind`` per key (a job's work split into parts that run in parallel), due at ``due_at``
    (default now; the time of the item split, so its parts keep its place in the queue); a part already pending
    is left as it is (``DO NOTHING``: a part waiting out its retry backoff keeps its time)."""
    if not kind or len(kind) > 64:
        raise ValueError(f"work kind must be 1-64 characters, not {kind!r}")
    t = time.time()
    rows = [{"kind": kind, "job_id": job_id, "key": k[:200], "now": t, "due": min(t, due_at or t)} for k in keys]
    for start in range(0, len(rows), 1000):
        conn.execute(text(_KEYS), rows[start : start + 1000])
