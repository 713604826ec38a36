"""Lease bookkeeping shared by the queue: the claim candidates, expiry, object counters, finishing jobs once.

Invariants (kept by conditional UPDATEs inside one write transaction, never by Python-side reads):

- ``objects.taken`` = live leases (assignments ``leased``/``stopped``) + submitted answers of the object.
- ``taken <= needed``: a claim is ``UPDATE objects SET taken = taken + 1 WHERE ... AND taken < needed``.
- One assignment row per (job, object, worker) (unique key), so one worker answers an object at most once.
- An object leaves ``open`` exactly once (``UPDATE ... WHERE status = 'open'``, in the same statement that
  changes its counters) when it has all its answers (``done``), or when as many workers declined as answers
  are needed and no lease is left on it (``done`` if at least one answer came in, Ground Truth's "labeled
  once at least one worker labeled it", else ``failed``, counted in FailedNonRetryableError).
- Finishing once, without one hot row: the transaction that settles an object first probes for an open object of
  the job that no other transaction holds (``FOR UPDATE SKIP LOCKED``, highest index first, away from the
  claim window) and keeps that row locked to its commit. Found: that object cannot settle before this
  transaction commits, so this one is not the last to settle, and it leaves the job row alone. Not found: it
  takes the job row lock (an UPDATE of ``jobs``) and counts the open objects left in a new statement. The last
  settling transaction to commit always finds nothing (an object it could lock would settle after it) and every
  other settler either held the job lock before it or holds a probed row whose settler commits later, so of all
  transactions settling a job's last objects exactly one sees none left under the lock, and only that one
  records (``gtcore.jobs.due.job_ended``) that finishing the job is due. So the job row is locked by the
  few settlers of a job's tail, not by every submit (it was the serialization point of concurrent submits on
  PostgreSQL). On SQLite (``BEGIN IMMEDIATE``: one writer at a time) the probe alone is exact.
- The same transaction records the work due for the settled object (``gtcore.jobs.due.object_settled``: its
  worker-response file, stopping conditions, the intermediate manifest); the background workers do it.

Hot statements are built once with ``bindparam`` (building a SQLAlchemy statement costs more than SQLite
takes to run it).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, bindparam, case, literal_column, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.db import DatabaseUnavailable
from gtcore.core.errors import TaskError
from gtcore.core.memory import ProcessMemory
from gtcore.jobs import due, finishing

log = logging.getLogger(__name__)

LIVE = ("leased", "stopped")  # statuses of a lease that still counts in objects.taken
BLOCKING = ("submitted", "declined", "leased", "stopped")  # the worker gets this object no more

A = dbm.assignments
O = dbm.objects  # noqa: E741
J = dbm.jobs
T = TypeVar("T")


def retrying(fn: Callable[[], T], attempts: int = 5) -> T:
    """Run a write transaction again when PostgreSQL aborted it as a deadlock or serialization victim."""
    for attempt in range(attempts):
        try:
            return fn()
        except DatabaseUnavailable as exc:
            text = str(exc.__cause__ or exc).lower()
            if attempt == attempts - 1 or not ("deadlock" in text or "could not serialize" in text):
                raise
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def const(value: str) -> Any:
    """A fixed string of the code (a status) as an SQL literal, not a bound parameter: SQLite plans an indexed
    ``status = 'open'`` once, while ``status = ?`` (worse, ORs of them) is planned again on every execution."""
    return literal_column("'" + value.replace("'", "''") + "'")


def one_of(column: Any, values: tuple[str, ...]) -> Any:
    """``column IN ('a', 'b')`` with literals (``const``): compiled once, no per-execution re-rendering."""
    return column.in_([const(v) for v in values])


def candidates(job_id: Any, worker: Any, max_concurrent: Any, excluded: list[int] | None = None, table: Any = O) -> Any:
    """Open objects this worker may claim now, lowest index first (the claim query; the portal counts it).

    The window is the first ``max_concurrent`` open objects of the job: objects never re-open, so every
    object in flight stays inside it and at most MaxConcurrentTaskCount objects are in flight. ``table``: an
    alias of ``objects`` to select from (the claim nests this query in an UPDATE of ``objects``). Objects held by
    automated data labeling (``held``: not released to people yet, gtcore.autolabel.loop) are never candidates
    and take no place in the window. ``max_concurrent`` None: no window (the claim checks it on its candidate).
    """
    win = O.alias("win")
    window = (
        select(win.c.idx)
        .where(win.c.job_id == job_id, win.c.status == const("open"), win.c.held.is_(False))
        .order_by(win.c.idx)
        .limit(max_concurrent)
        .scalar_subquery()
    )
    mine = (
        select(A.c.id)
        .where(
            A.c.job_id == job_id,
            A.c.object_idx == table.c.idx,
            A.c.worker_id == worker,
            one_of(A.c.status, BLOCKING),
        )
        .exists()
    )
    q = select(table.c.idx, table.c.line_json, table.c.source_ref).where(
        table.c.job_id == job_id,
        table.c.status == const("open"),
        table.c.held.is_(False),
        table.c.taken < table.c.needed,
        table.c.declines < table.c.needed,
        ~mine,
    )
    if max_concurrent is not None:
        q = q.where(table.c.idx.in_(window))
    if excluded:
        q = q.where(table.c.idx.not_in(excluded))
    return q.order_by(table.c.idx)


_A2 = A.alias("run_out")
_RUN_OUT = (  # PostgreSQL: lock them in id order and skip those another transaction holds (a submit racing the
    # expiry, or another claim expiring them): one bulk UPDATE waiting on rows in scan order deadlocked with those
    select(_A2.c.id)
    .where(_A2.c.job_id == bindparam("b_job"), one_of(_A2.c.status, LIVE), _A2.c.lease_expires_at < bindparam("now"))
    .order_by(_A2.c.id)
    .with_for_update(skip_locked=True)
)
EXPIRE = (
    update(A)
    .where(A.c.id.in_(_RUN_OUT), one_of(A.c.status, LIVE), A.c.lease_expires_at < bindparam("now"))
    .values(status="expired", updated_at=bindparam("now"))
    .returning(A.c.object_idx)
)

_answers = O.c.answers + bindparam("d_answers")
_taken = O.c.taken + bindparam("d_taken")
_declines = O.c.declines + bindparam("d_declines")
BUMP = (
    update(O)
    .where(O.c.job_id == bindparam("b_job"), O.c.idx == bindparam("b_idx"), O.c.status == const("open"))
    .values(
        answers=_answers,
        taken=_taken,
        declines=_declines,
        status=case(
            (_answers >= O.c.needed, "done"),
            (and_(_declines >= O.c.needed, _taken <= _answers), case((_answers > 0, "done"), else_="failed")),
            else_="open",
        ),
        updated_at=bindparam("now"),
    )
    .returning(O.c.status)
)
P_BUMP = dbm.Prepared(BUMP)
PROBE = (  # an open object no other transaction holds; locked to the commit (SKIP LOCKED: never waits)
    select(O.c.idx)
    .where(O.c.job_id == bindparam("b_job"), O.c.status == const("open"))
    .order_by(O.c.idx.desc())
    .limit(1)
    .with_for_update(skip_locked=True)
)
LOCK_JOB = (
    update(J).where(J.c.id == bindparam("b_job"), J.c.status == const("InProgress")).values(updated_at=bindparam("now"))
)
P_PROBE = dbm.Prepared(PROBE)
PROBE_SQL = (  # PROBE as text, for the statement of workqueue.enqueue_due on PostgreSQL
    "SELECT idx FROM objects WHERE job_id = :b_job AND status = 'open' ORDER BY idx DESC LIMIT 1 FOR UPDATE SKIP LOCKED"
)
ANY_OPEN = select(O.c.idx).where(O.c.job_id == bindparam("b_job"), O.c.status == const("open")).limit(1)
P_LOCK_JOB = dbm.Prepared(LOCK_JOB)  # run once per job (its last submit): compiled with the others, see Prepared
P_ANY_OPEN = dbm.Prepared(ANY_OPEN)


def bump(
    conn: Connection, job_id: int, idx: int, now: float, *, answers: int = 0, taken: int = 0, declines: int = 0
) -> bool:
    """Change an open object's counters and settle it in one UPDATE; True if this moved it out of ``open``.

    Raises:
        TaskError: the object is not open (it cannot change any more): the caller's transaction must fail.
    """
    new = P_BUMP.first(
        conn,
        {"b_job": job_id, "b_idx": idx, "now": now, "d_answers": answers, "d_taken": taken, "d_declines": declines},
    )
    if new is None:
        raise TaskError(f"object {idx} of job {job_id} is closed; nothing was changed")
    return bool(new[0] != "open")


def close_job_if_done(conn: Connection, job_id: int, now: float, *, probed: bool | None = None) -> bool:
    """After settling an object: True when no open object is left and this transaction is the one to finish
    (the probe, then the job row lock only when the probe found nothing: see the module docstring).
    ``probed``: the probe already ran (in the due-work statement, see ``settled``), and found an object or not."""
    if probed is None:
        probed = P_PROBE.first(conn, {"b_job": job_id}) is not None
    if probed:
        return False
    if P_LOCK_JOB.count(conn, {"b_job": job_id, "now": now}) != 1:
        return False
    if conn.dialect.name == "sqlite":  # the only writer: the probe's answer still holds
        return True
    return P_ANY_OPEN.first(conn, {"b_job": job_id}) is None


def settled(conn: Connection, memory: ProcessMemory, job_id: int, now: float) -> bool:
    """After ``bump`` moved an object out of ``open``: record the work due (``gtcore.jobs.due``) in this
    transaction; True when it was the job's last open object (finishing it became due)."""
    if conn.dialect.name == "postgresql":  # the probe rides in the due-work insert's statement: one round trip
        probed = bool(due.object_settled(conn, memory, job_id, then=PROBE_SQL, then_params={"b_job": job_id}))
    else:
        due.object_settled(conn, memory, job_id)
        probed = None
    if close_job_if_done(conn, job_id, now, probed=probed):
        due.job_ended(conn, job_id, "Completed")
        return True
    return False


def expire_job_leases(conn: Connection, memory: ProcessMemory, job_id: int, now: float) -> tuple[int, bool]:
    """Expire the job's leases that ended before ``now``; return (count, job_finished_by_this_tx)."""
    rows = conn.execute(EXPIRE, {"b_job": job_id, "now": now}).all()
    if not rows:
        return 0, False
    per_object = Counter(r.object_idx for r in rows)
    any_settled = False
    for idx in sorted(per_object):
        any_settled = bump(conn, job_id, idx, now, taken=-per_object[idx]) or any_settled
    finished = settled(conn, memory, job_id, now) if any_settled else False
    return len(rows), finished


def expire_leases(ctx: Context, job_id: int | None = None, *, now: float | None = None) -> int:
    """Return expired leases to the pool (all jobs, or one); finish jobs this completes. Returns the count.

    Maintenance call (no actor): it only applies the job's own time limits; finishing a job it completes becomes
    due (background work). It also re-enqueues the finish of jobs still InProgress with no open object left for
    longer than ``FINISH_GRACE_SECONDS``.
    """
    t = dbm.now() if now is None else now
    q = select(A.c.job_id).where(A.c.status.in_(LIVE), A.c.lease_expires_at < t)
    q = q.distinct() if job_id is None else q.where(A.c.job_id == job_id).limit(1)
    with ctx.db.read() as conn:  # cheap look first: most calls find nothing and need no write transaction
        job_ids = sorted({r.job_id for r in conn.execute(q)})
    total = 0
    for jid in job_ids:

        def tx(jid: int = jid) -> tuple[int, bool]:
            with ctx.db.write() as conn:
                return expire_job_leases(conn, ctx.memory, jid, t)

        count, _ = retrying(tx)
        total += count
    finishing.recover_stuck_jobs(ctx, job_id, t)
    return total
