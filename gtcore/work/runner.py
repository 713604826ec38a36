"""Claim due work items and run their handlers: ``run`` (a worker's loop), ``run_until_idle`` (tests, benches).

Claiming: one item at a time, the oldest due first: ``pending`` with ``run_after <= now``, or ``running`` whose
lease ran out (its worker died: SIGKILL, power loss); never while another item of the same (kind, job_id, key)
runs, so one identity's work runs at one place at a time whatever the number of workers (a pending twin enqueued
meanwhile waits for it; a job's work that may run in parallel is split by key, e.g. worker-response files by
object range). On PostgreSQL the claim is one ``UPDATE ... WHERE id =
(SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)``, so concurrent workers skip each other's rows; on SQLite it runs
inside ``BEGIN IMMEDIATE`` (writers are serialized). Either way two workers never hold the same item: the claim
sets ``status='running'``, ``worker`` and ``lease_until`` atomically, and every later update of the item is
guarded by ``worker`` (a worker whose lease was taken over cannot mark the item done or failed).

While the handler runs, a side thread renews the lease every third of ``lease_seconds``. On success the item is
``done``; on an exception it goes back to ``pending`` with exponential backoff (2, 4, 8 ... 300 s) and the error
in ``last_error``, and after ``max_attempts`` it is ``failed`` with that reason. If a newer pending item with the
same (kind, job_id, key) was enqueued meanwhile, the failed attempt is merged into it (one pending item stays).
A worker polls with a cheap read and takes the write lock only when something is due.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import workqueue
from gtcore.core.workqueue import WorkItem
from gtcore.work import registry

log = logging.getLogger(__name__)
W = dbm.work_items
CLAIM_LEASE_SECONDS = 60.0  # the lease set by the claim itself, before the handler's own is applied
MAX_BACKOFF_SECONDS = 300.0
MAX_ERROR_CHARS = 4000
DONE_KEEP_SECONDS = 3600.0  # done items are deleted by the maintenance sweep after this long
MAX_IDLE_POLL_SECONDS = 10.0  # a worker whose claims fail (database away) polls at most this slowly


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _due(now: float, kinds: Iterable[str] | None, shifted_before: float | None = None) -> Any:
    """Due at ``now``; with ``shifted_before`` (a test's clock moved ahead) only items created before that real
    time are due by ``now``, later ones (a sweep that re-enqueued itself) by the real clock."""
    pending = and_(W.c.status == workqueue.PENDING, W.c.run_after <= now)
    if shifted_before is not None:
        real = dbm.now()
        pending = and_(pending, or_(W.c.created_at < shifted_before, W.c.run_after <= real))
    cond = or_(pending, and_(W.c.status == workqueue.RUNNING, W.c.lease_until < now))
    twin = W.alias("twin")  # one item of an identity runs at a time: a pending twin waits for the running one
    running_twin = select(twin.c.id).where(
        twin.c.status == workqueue.RUNNING, twin.c.kind == W.c.kind, twin.c.job_id.is_not_distinct_from(W.c.job_id),
        twin.c.key == W.c.key, twin.c.id != W.c.id,
    )  # fmt: skip
    cond = and_(cond, ~running_twin.exists())
    if kinds is not None:
        cond = and_(cond, W.c.kind.in_(list(kinds)))
    return cond


def anything_due(ctx: Context, now: float | None = None, kinds: Iterable[str] | None = None) -> bool:
    t = dbm.now() if now is None else now
    with ctx.db.read() as conn:
        return conn.execute(select(W.c.id).where(_due(t, kinds)).limit(1)).first() is not None


def claim(
    ctx: Context,
    worker: str,
    *,
    now: float | None = None,
    kinds: Iterable[str] | None = None,
    shifted_before: float | None = None,
) -> Any:
    """Take the oldest due item for ``worker``; return its row (status running, attempts counted) or None."""
    t = dbm.now() if now is None else now
    pick = select(W.c.id).where(_due(t, kinds, shifted_before)).order_by(W.c.run_after, W.c.id).limit(1)
    values = {"status": workqueue.RUNNING, "worker": worker, "lease_until": t + CLAIM_LEASE_SECONDS,
              "attempts": W.c.attempts + 1, "updated_at": t}  # fmt: skip
    with ctx.db.write() as conn:
        if ctx.db.is_postgres:
            stmt = update(W).where(W.c.id == pick.with_for_update(skip_locked=True).scalar_subquery())
            return conn.execute(stmt.values(**values).returning(*W.c)).first()
        row = conn.execute(pick).first()
        if row is None:
            return None
        return conn.execute(update(W).where(W.c.id == row.id).values(**values).returning(*W.c)).first()


def _mine(row: Any, worker: str) -> Any:
    return and_(W.c.id == row.id, W.c.worker == worker, W.c.status == workqueue.RUNNING)


def _renew(ctx: Context, row: Any, worker: str, lease: float) -> None:
    with ctx.db.write() as conn:
        conn.execute(update(W).where(_mine(row, worker)).values(lease_until=dbm.now() + lease))


def _finish_ok(ctx: Context, row: Any, worker: str) -> None:
    t = dbm.now()
    with ctx.db.write() as conn:
        conn.execute(update(W).where(_mine(row, worker)).values(status=workqueue.DONE, lease_until=None, updated_at=t))


def _merge_into_pending(conn: Connection, row: Any, worker: str, values: dict) -> bool:
    """A newer pending item of the same identity exists: it carries the retry; drop this attempt's row."""
    same = conn.execute(
        select(W.c.id).where(W.c.kind == row.kind, W.c.key == row.key, W.c.status == workqueue.PENDING,
                             (W.c.job_id == row.job_id) if row.job_id is not None else W.c.job_id.is_(None))
    ).first()  # fmt: skip
    if same is None:
        return False
    conn.execute(
        update(W).where(W.c.id == same.id).values(attempts=values["attempts"], last_error=values["last_error"])
    )
    conn.execute(delete(W).where(_mine(row, worker)))
    return True


def _finish_error(ctx: Context, row: Any, worker: str, spec: registry.HandlerSpec | None, err: str) -> str:
    """Back to pending with backoff, or failed after max_attempts; returns the new status."""
    t = dbm.now()
    attempts = int(row.attempts)
    max_attempts = spec.max_attempts if spec else 8
    err = err[-MAX_ERROR_CHARS:]
    if attempts >= max_attempts:
        values = {
            "status": workqueue.FAILED,
            "lease_until": None,
            "last_error": err,
            "updated_at": t,
            "attempts": attempts,
        }
        with ctx.db.write() as conn:
            conn.execute(update(W).where(_mine(row, worker)).values(**values))
        return workqueue.FAILED
    backoff = min(MAX_BACKOFF_SECONDS, 2.0**attempts)
    values = {"status": workqueue.PENDING, "run_after": t + backoff, "lease_until": None, "worker": None,
              "last_error": err, "updated_at": t, "attempts": attempts}  # fmt: skip
    for _ in range(3):
        try:
            with ctx.db.write() as conn:
                if not _merge_into_pending(conn, row, worker, values):
                    conn.execute(update(W).where(_mine(row, worker)).values(**values))
            return workqueue.PENDING
        except IntegrityError:  # a pending twin was enqueued between our check and update (PostgreSQL)
            continue
    return workqueue.PENDING


def execute(ctx: Context, row: Any, worker: str) -> str:
    """Run the claimed item's handler with a renewed lease; record the outcome; return the new status."""
    spec = registry.get(row.kind)
    if spec is None:
        return _finish_error(ctx, row, worker, None, f"no handler for work kind {row.kind!r} in this worker")
    if row.attempts > spec.max_attempts:  # only reclaims from workers that died count past max_attempts
        msg = f"the worker running it stopped answering {row.attempts - 1} times (last: {row.worker})"
        return _finish_error(ctx, row, worker, spec, msg)
    import json

    payload = json.loads(row.payload_json or "{}")
    item = WorkItem(row.id, row.kind, row.job_id, row.key, payload, int(row.attempts), float(row.run_after))
    stop = threading.Event()
    period = max(0.2, spec.lease_seconds / 3.0)

    def keep_lease() -> None:
        while True:
            try:
                _renew(ctx, row, worker, spec.lease_seconds)
            except Exception:  # the next tick retries; the lease lasts long enough for a few misses
                log.warning("renewing the lease of work item %s failed", row.id, exc_info=True)
            if stop.wait(period):
                return

    renewer = threading.Thread(target=keep_lease, name=f"lease-{row.id}", daemon=True)
    renewer.start()
    try:
        spec.fn(ctx, item)
    except Exception as exc:
        stop.set()
        renewer.join()
        log.warning(
            "work item %s (%s, job %s) failed on attempt %s: %s", row.id, row.kind, row.job_id, row.attempts, exc
        )
        text = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=6))
        return _finish_error(ctx, row, worker, spec, text)
    stop.set()
    renewer.join()
    _finish_ok(ctx, row, worker)
    return workqueue.DONE


def run_once(
    ctx: Context,
    worker: str,
    *,
    now: float | None = None,
    kinds: Iterable[str] | None = None,
    shifted_before: float | None = None,
) -> bool:
    """Claim and run one due item; False when none was due."""
    row = claim(ctx, worker, now=now, kinds=kinds, shifted_before=shifted_before)
    if row is None:
        return False
    execute(ctx, row, worker)
    return True


def run_until_idle(
    ctx: Context, max_seconds: float = 60.0, *, now: float | None = None, kinds: Iterable[str] | None = None
) -> int:
    """Run due items in this process until none is due (or ``max_seconds`` passed); return how many ran.

    ``now``: treat items due up to this time as due (tests of delayed work); items enqueued during this call are
    due by the real clock, so a maintenance sweep that re-enqueues itself 30 s ahead does not run again and again.
    """
    registry.load_handlers()
    worker = worker_name()
    deadline = time.monotonic() + max_seconds
    start = dbm.now()
    count = 0
    while time.monotonic() < deadline:
        t = None if now is None else max(now, dbm.now())
        if not run_once(ctx, worker, now=t, kinds=kinds, shifted_before=None if now is None else start):
            break
        count += 1
    return count


def run(
    ctx: Context,
    stop_event: threading.Event,
    *,
    name: str | None = None,
    poll_seconds: float = 0.5,
    kinds: Iterable[str] | None = None,
    max_items: int | None = None,
) -> int:
    """A worker's loop until ``stop_event`` is set: run due items one by one, poll when idle. Returns items run.

    Starts the maintenance sweeps (``maintenance.sweep`` re-enqueues itself) and never dies of an error: a failed
    claim (database away) is logged and retried after the poll interval."""
    registry.load_handlers()
    worker = name or worker_name()
    kind_list = list(kinds) if kinds is not None else None
    count = 0
    started = False
    failures = 0  # consecutive failed claims (database away): logged once in full, then briefly, polled slower
    while not stop_event.is_set():
        try:
            if not started:
                _start_sweeps(ctx)
                started = True
            due = anything_due(ctx, kinds=kind_list)
            if failures:
                log.warning("background worker %s: the database answers again", worker)
            failures = 0
            if due and run_once(ctx, worker, kinds=kind_list):
                count += 1
                if max_items is not None and count >= max_items:
                    break
                continue
        except Exception as exc:
            failures += 1
            if failures == 1:
                log.exception("background worker %s: claiming work failed; retrying", worker)
            else:
                log.warning("background worker %s: claiming work failed again (%s)", worker, str(exc)[:200])
        stop_event.wait(min(MAX_IDLE_POLL_SECONDS, poll_seconds * 2**failures) if failures else poll_seconds)
    return count


def _start_sweeps(ctx: Context) -> None:
    if registry.get("maintenance.sweep") is None:
        return
    with ctx.db.write() as conn:
        workqueue.enqueue(conn, "maintenance.sweep")
