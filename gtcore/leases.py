"""Lease bookkeeping shared by the queue: the claim candidates, expiry, object counters, finishing jobs once.

Invariants (kept by conditional UPDATEs inside one write transaction, never by Python-side reads):

- ``objects.taken`` = live leases (assignments ``leased``/``stopped``) + submitted answers of the object.
- ``taken <= needed``: a claim is ``UPDATE objects SET taken = taken + 1 WHERE ... AND taken < needed``.
- One assignment row per (job, object, worker) (unique key), so one worker answers an object at most once.
- An object leaves ``open`` exactly once (``UPDATE ... WHERE status = 'open'``, in the same statement that
  changes its counters) when it has all its answers (``done``), or when as many workers declined as answers
  are needed and no lease is left on it (``done`` if at least one answer came in, Ground Truth's "labeled
  once at least one worker labeled it", else ``failed``, counted in FailedNonRetryableError).
- The transaction that settles an object takes the job row lock (an UPDATE of ``jobs``) before counting the
  open objects left; so of all transactions settling a job's last objects exactly one sees none left, and
  only that one calls ``lifecycle.finish_job(ctx, job_id, "Completed")`` after its commit.
- After a commit that settled an object without finishing the job, ``object_settled`` checks the job's
  StoppingConditions (``jobactions.check_stopping_conditions``) and rewrites the intermediate manifest when
  ``output.intermediate_due`` says so, but at most once every ``INTERMEDIATE_MIN_SECONDS`` per job and
  process (a rewrite reads every object of the job and fsyncs three files: without this, a fast crowd on a
  small job would pay it on every submit). A due write that was skipped or failed is pending: the next
  settled object of that job writes it once the interval has passed. Nothing here can fail the worker's
  action: errors are logged. So while a job runs its intermediate manifest lags by at most the interval
  plus the time to the next completed object (Ground Truth: "a few minutes"); the finish writes it whole.
- ``maybe_fail_overdue`` (called by claims) fails jobs older than 30 days, at most every
  ``OVERDUE_CHECK_SECONDS`` per database and process.

Hot statements are built once with ``bindparam`` (building a SQLAlchemy statement costs more than SQLite
takes to run it).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, bindparam, case, func, or_, select, update

from gtcore import db as dbm
from gtcore.access import Actor
from gtcore.context import Context
from gtcore.db import DatabaseUnavailable
from gtcore.errors import TaskError

log = logging.getLogger(__name__)

LIVE = ("leased", "stopped")  # statuses of a lease that still counts in objects.taken
BLOCKING = ("submitted", "declined", "leased", "stopped")  # the worker gets this object no more
FINISH_GRACE_SECONDS = 600.0  # recovery: finish a job left InProgress with no open object after this long
OVERDUE_CHECK_SECONDS = 300.0  # maybe_fail_overdue looks at most this often (per database, per process)
INTERMEDIATE_MIN_SECONDS = 5.0  # object_settled rewrites a job's intermediate manifest at most this often
_intermediate_last: dict[tuple[str, int], float] = {}  # (database URL, job id) -> monotonic time of the last write
_intermediate_pending: set[tuple[str, int]] = set()  # due, but skipped by the interval or failed
_overdue_checked: dict[str, float] = {}  # database URL -> time.monotonic() of the last overdue check

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


def one_of(column: Any, values: tuple[str, ...]) -> Any:
    """``column IN (...)`` written as ORs of equalities: no per-execution re-rendering of the statement."""
    return or_(*(column == v for v in values))


def candidates(job_id: Any, worker: Any, max_concurrent: Any, excluded: list[int] | None = None) -> Any:
    """Open objects this worker may claim now, lowest index first (the claim query; the portal counts it).

    The window is the first ``max_concurrent`` open objects of the job: objects never re-open, so every
    object in flight stays inside it and at most MaxConcurrentTaskCount objects are in flight.
    """
    win = O.alias("win")
    window = (
        select(win.c.idx)
        .where(win.c.job_id == job_id, win.c.status == "open")
        .order_by(win.c.idx)
        .limit(max_concurrent)
        .scalar_subquery()
    )
    mine = (
        select(A.c.id)
        .where(A.c.job_id == job_id, A.c.object_idx == O.c.idx, A.c.worker_id == worker, one_of(A.c.status, BLOCKING))
        .exists()
    )
    q = select(O.c.idx, O.c.line_json, O.c.source_ref).where(
        O.c.job_id == job_id,
        O.c.idx.in_(window),
        O.c.status == "open",
        O.c.taken < O.c.needed,
        O.c.declines < O.c.needed,
        ~mine,
    )
    if excluded:
        q = q.where(O.c.idx.not_in(excluded))
    return q.order_by(O.c.idx)


CANDIDATE = candidates(bindparam("b_job"), bindparam("worker"), bindparam("maxc")).limit(1)
CANDIDATE_PG = CANDIDATE.with_for_update(skip_locked=True, of=O)

EXPIRE = (
    update(A)
    .where(A.c.job_id == bindparam("b_job"), one_of(A.c.status, LIVE), A.c.lease_expires_at < bindparam("now"))
    .values(status="expired", updated_at=bindparam("now"))
    .returning(A.c.object_idx)
)

_answers = O.c.answers + bindparam("d_answers")
_taken = O.c.taken + bindparam("d_taken")
_declines = O.c.declines + bindparam("d_declines")
BUMP = (
    update(O)
    .where(O.c.job_id == bindparam("b_job"), O.c.idx == bindparam("b_idx"), O.c.status == "open")
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
LOCK_JOB = update(J).where(J.c.id == bindparam("b_job"), J.c.status == "InProgress").values(updated_at=bindparam("now"))
ANY_OPEN = select(O.c.idx).where(O.c.job_id == bindparam("b_job"), O.c.status == "open").limit(1)


def bump(
    conn: Connection, job_id: int, idx: int, now: float, *, answers: int = 0, taken: int = 0, declines: int = 0
) -> bool:
    """Change an open object's counters and settle it in one UPDATE; True if this moved it out of ``open``.

    Raises:
        TaskError: the object is not open (it cannot change any more): the caller's transaction must fail.
    """
    new = conn.execute(
        BUMP,
        {"b_job": job_id, "b_idx": idx, "now": now, "d_answers": answers, "d_taken": taken, "d_declines": declines},
    ).scalar()
    if new is None:
        raise TaskError(f"object {idx} of job {job_id} is closed; nothing was changed")
    return bool(new != "open")


def close_job_if_done(conn: Connection, job_id: int, now: float) -> bool:
    """After settling an object: True when no open object is left and this transaction is the one to finish."""
    if conn.execute(LOCK_JOB, {"b_job": job_id, "now": now}).rowcount != 1:
        return False
    return conn.execute(ANY_OPEN, {"b_job": job_id}).first() is None


def expire_job_leases(conn: Connection, job_id: int, now: float) -> tuple[int, bool]:
    """Expire the job's leases that ended before ``now``; return (count, job_finished_by_this_tx)."""
    rows = conn.execute(EXPIRE, {"b_job": job_id, "now": now}).all()
    if not rows:
        return 0, False
    per_object = Counter(r.object_idx for r in rows)
    settled = False
    for idx in sorted(per_object):
        settled = bump(conn, job_id, idx, now, taken=-per_object[idx]) or settled
    finished = close_job_if_done(conn, job_id, now) if settled else False
    return len(rows), finished


def finish(ctx: Context, job_id: int) -> None:
    """Call the lifecycle hook for a job this process saw complete; failures are logged, not raised.

    The answers that completed the job are already committed, so the annotator's action stands; a job left
    InProgress by a failing hook is finished again by ``expire_leases`` after ``FINISH_GRACE_SECONDS``.
    """
    from gtcore import lifecycle

    try:
        lifecycle.finish_job(ctx, job_id, "Completed")
    except Exception:
        log.exception("finishing job %s failed; expire_leases retries it later", job_id)


def expire_leases(ctx: Context, job_id: int | None = None, *, now: float | None = None) -> int:
    """Return expired leases to the pool (all jobs, or one); finish jobs this completes. Returns the count.

    Maintenance call (no actor): it only applies the job's own time limits. It also finishes jobs that are
    still InProgress with no open object left for longer than ``FINISH_GRACE_SECONDS`` (a finisher that crashed).
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
                return expire_job_leases(conn, jid, t)

        count, finished = retrying(tx)
        total += count
        if finished:
            finish(ctx, jid)
    _recover_stuck_jobs(ctx, job_id, t)
    return total


def _recover_stuck_jobs(ctx: Context, job_id: int | None, now: float) -> None:
    open_objects = select(O.c.idx).where(O.c.job_id == J.c.id, O.c.status == "open").exists()
    q = select(J.c.id).where(
        J.c.status == "InProgress", J.c.updated_at < now - FINISH_GRACE_SECONDS, J.c.total_objects > 0, ~open_objects
    )
    if job_id is not None:
        q = q.where(J.c.id == job_id)
    with ctx.db.read() as conn:
        stuck = [r.id for r in conn.execute(q)]
    for jid in stuck:
        log.warning("job %s has no open object left but is still InProgress: finishing it", jid)
        finish(ctx, jid)


OPEN_LEFT = select(func.count()).where(O.c.job_id == bindparam("b_job"), O.c.status == "open")
JOB_FACTS = select(J.c.total_objects, J.c.spec_json).where(J.c.id == bindparam("b_job"))
_job_facts: dict[tuple[str, int], tuple[int, bool]] = {}  # (db, job) -> (total objects, has StoppingConditions)


def _facts(ctx: Context, job_id: int) -> tuple[int, bool] | None:
    """A job's object count and whether it has StoppingConditions (both fixed at creation: cached)."""
    key = (ctx.db.url, job_id)
    if key not in _job_facts:
        with ctx.db.read() as conn:
            row = conn.execute(JOB_FACTS, {"b_job": job_id}).first()
        if row is None:
            return None
        try:
            spec = json.loads(row.spec_json or "{}")
        except ValueError:
            spec = {}
        _job_facts[key] = (int(row.total_objects), bool(isinstance(spec, dict) and spec.get("StoppingConditions")))
    return _job_facts[key]


def object_settled(ctx: Context, job_id: int, actor: Actor | None = None) -> None:
    """After a commit that moved an object out of ``open`` (the job not finished by it): stop the job if a
    StoppingConditions limit is reached, else rewrite the intermediate manifest when it is due. Never raises."""
    from gtcore import jobactions

    try:
        facts = _facts(ctx, job_id)
        if facts is None:
            return
        if facts[1] and jobactions.check_stopping_conditions(ctx, actor or Actor.system_actor(), job_id):
            return
        _write_intermediate_if_due(ctx, job_id, facts[0])
    except Exception:
        log.exception("after object settled in job %s: stopping conditions or intermediate manifest failed "
                      "(the next settled object retries)", job_id)  # fmt: skip


def _write_intermediate_if_due(ctx: Context, job_id: int, total: int) -> None:
    from gtcore import output

    key = (ctx.db.url, job_id)
    if key not in _intermediate_pending and total > output.INTERMEDIATE_SMALL_JOB:
        with ctx.db.read() as conn:  # counting is needed for the every-1 % rule only
            left = int(conn.execute(OPEN_LEFT, {"b_job": job_id}).scalar_one())
        if not output.intermediate_due(total, total - left):
            return
    t = time.monotonic()
    last = _intermediate_last.get(key)
    if last is not None and t - last < INTERMEDIATE_MIN_SECONDS:
        _intermediate_pending.add(key)
        return
    _intermediate_last[key] = t
    _intermediate_pending.add(key)  # until the write succeeded
    if output.write_intermediate(ctx, job_id) is None:  # the job is finishing or final: nothing more to do
        _intermediate_last.pop(key, None)
    _intermediate_pending.discard(key)


def maybe_fail_overdue(ctx: Context) -> None:
    """Fail running jobs older than 30 days (``jobactions.fail_overdue_jobs``), cheaply throttled; never raises."""
    from gtcore import jobactions

    key, t = ctx.db.url, time.monotonic()
    last = _overdue_checked.get(key)
    if last is not None and t - last < OVERDUE_CHECK_SECONDS:
        return
    _overdue_checked[key] = t
    try:
        jobactions.fail_overdue_jobs(ctx, Actor.system_actor())
    except Exception:
        log.exception("failing overdue labeling jobs failed; the next check retries")
