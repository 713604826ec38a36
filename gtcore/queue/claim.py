"""The annotators' task queue: claim the next task of a job, resume a held one, list a worker's jobs.

A claim is one write transaction (``Database.write``; BEGIN IMMEDIATE on SQLite), in as few statements as the
database allows (each is a round trip on PostgreSQL):

1. PostgreSQL first locks the worker's user row (``FOR UPDATE``; it also reads whether he is active), so two
   tabs of one worker cannot claim two tasks at once; then one SELECT reads the job, the worker's live lease in
   it (if any), whether he is active (SQLite) and whether any lease of the job has run out; a job not
   InProgress hands out nothing; stale leases are expired (``gtcore.queue.leases``) only when there are some;
2. a live lease of this worker in this job is returned as is (resume; ``stopped`` becomes ``leased``);
3. one statement takes the next object: ``UPDATE objects SET taken = taken + 1 WHERE idx = (candidate) AND
   taken < needed AND status = 'open' RETURNING ...``, where the candidate is the first ``open`` object (by
   index) with ``taken < needed``, fewer declines than answers needed, and no assignment of this worker that
   blocks it (submitted, declined, live), taken only if it is among the first ``MaxConcurrentTaskCount`` open
   objects of the job (fewer than that many open objects before it: objects never re-open, so at most that many
   objects are in flight); PostgreSQL takes it ``FOR UPDATE SKIP LOCKED`` and
   inserts the assignment in the same statement (a data-modifying CTE), SQLite in the next;
4. the assignment insert is ``ON CONFLICT DO NOTHING`` on the unique (job, object, worker) key; when it hits
   the worker's released/expired row that row is re-used by a conditional UPDATE; if that loses too, ``taken``
   is given back and the next candidate (excluding this one) is tried.

The fast claim (``_fast_claim``): once a process knows the job's fixed columns (``gtcore.queue.facts``, from an
earlier full claim) and the actor passes the team and lifetime checks on them, step 1's SELECT is skipped: the
take of step 3 carries what it was read for as conditions (job InProgress and still the job remembered, worker
active, no live lease of his in the job, no run-out lease in the job: ``take._guards``). SQLite then claims in two
statements like the bare loop, PostgreSQL in the user lock plus one. When that take changes nothing the full
claim above runs in the same transaction and decides (resume, expiry, refusals, or nothing to take).

Correctness comes from the conditional UPDATE and the unique key, not from what Python read.
Steps 3-4 (the take) live in ``gtcore.queue.take``, the ``Task`` it returns in ``gtcore.queue.task``.
The per-task actions live in ``gtcore.queue.actions`` and the expiry in ``gtcore.queue.leases``;
``gtcore.queue.api`` gathers them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor, require_team_member
from gtcore.core.errors import JobClosed, NotFound, PermissionDenied
from gtcore.queue import facts as cache
from gtcore.queue.facts import FixedJobFacts
from gtcore.queue.leases import LIVE, expire_job_leases, one_of, retrying
from gtcore.queue.lifetime import expire_job_lifetime, lifetime_over
from gtcore.queue.take import take
from gtcore.queue.task import Task, load_task

A = dbm.assignments
J = dbm.jobs
U = dbm.users


SEL_JOB = select(J).where(J.c.id == bindparam("b_job"))
LOCK_USER = select(U.c.is_active).where(U.c.id == bindparam("worker")).with_for_update()
LIVE_LEASE = (
    select(A.c.id)
    .where(
        A.c.job_id == bindparam("b_job"),
        A.c.worker_id == bindparam("worker"),
        one_of(A.c.status, LIVE),
        A.c.lease_expires_at >= bindparam("now"),
    )
    .order_by(A.c.id.desc())
    .limit(1)
)
_stale = select(A.c.id).where(
    A.c.job_id == bindparam("b_job"), one_of(A.c.status, LIVE), A.c.lease_expires_at < bindparam("now")
)
SEL_JOB_OWN = select(
    J,
    LIVE_LEASE.scalar_subquery().label("own"),
    select(U.c.is_active).where(U.c.id == bindparam("worker")).scalar_subquery().label("active"),
    _stale.exists().label("stale"),
).where(J.c.id == bindparam("b_job"))
RESUME = (  # the pause ends now: updated_at restarts the active-time clock
    update(A)
    .where(A.c.id == bindparam("aid"), A.c.status == "stopped")
    .values(status="leased", updated_at=bindparam("now"))
)
P_LOCK_USER = dbm.Prepared(LOCK_USER)


def _check_job(actor: Actor, job: Any, job_id: int, active: Any) -> Any:
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    require_team_member(actor, job.team_id, job.name)
    if actor.user_id is None:
        raise PermissionDenied("only a signed-in worker can take tasks")
    if not active:  # the user row decides, not an Actor built before he was disabled
        raise PermissionDenied(f"{actor.email} is disabled and cannot take tasks of job {job.name}")
    return job


def _fast_claim(
    conn: Connection, actor: Actor, job: FixedJobFacts | None, active: Any, t: float, pg: bool
) -> Task | None:
    """The claim in one guarded take (``gtcore.queue.take``) when the job's facts are known and the actor passes the
    checks of ``_check_job``; None when it took nothing (the full claim then runs, in the same transaction, and
    decides)."""
    if job is None or actor.user_id is None or (pg and not active) or lifetime_over(job, t):
        return None
    if not cache.in_team(actor, job.team_id):
        return None  # require_team_member would refuse: the full claim says why
    return take(conn, job, int(actor.user_id), t, pg, guarded=True)


def claim_next(ctx: Context, actor: Actor, job_id: int, *, now: float | None = None) -> Task | None:
    """Lease the next task of the job to the actor (or return the one he holds); None if nothing is available.

    Raises:
        JobClosed: the job is not InProgress (stopped, completed): it hands out no more tasks.
        PermissionDenied: the actor is not a worker in the job's team.
        NotFound: no such job.
    """
    t = dbm.now() if now is None else now
    pg = ctx.db.is_postgres

    def tx() -> tuple[Task | None, Any]:
        with ctx.db.write() as conn:
            params = {"b_job": job_id, "worker": actor.user_id, "now": t}
            active = None
            if pg and actor.user_id is not None:  # one claim at a time per worker (two tabs): lock, then look
                locked = P_LOCK_USER.first(conn, params)
                active = locked[0] if locked is not None else None
            fast = _fast_claim(conn, actor, ctx.memory.job_facts(job_id), active, t, pg)
            if fast is not None:
                return fast, None
            found = conn.execute(SEL_JOB_OWN, params).first()
            job = _check_job(actor, found, job_id, active if pg else (found.active if found is not None else None))
            worker = int(actor.user_id)  # type: ignore[arg-type]  # _check_job refused None
            facts = cache.remember_job(ctx.memory, job)  # None (and the job forgotten): not InProgress
            if facts is None:
                return None, job
            if lifetime_over(job, t):  # TaskAvailabilityLifetimeInSeconds ended: its open objects fail
                expire_job_lifetime(conn, ctx.memory, job_id, t)
                return None, None
            if job.stale:
                expire_job_leases(conn, ctx.memory, job_id, t)
            if job.own is not None:  # live (not run out): the expiry above left it alone
                conn.execute(RESUME, {"aid": job.own, "now": t})
                return load_task(conn, facts, job.own), None
            return take(conn, facts, worker, t, pg), None

    task, closed = retrying(tx)
    if closed is not None:
        raise JobClosed(f"job {closed.name} is {closed.status}: it hands out no more tasks", closed.name, closed.status)
    if task is not None:
        ctx.memory.remember_assignment(task.assignment_id, task.job_id, task.object_idx)
    return task


def current_task(ctx: Context, actor: Actor, job_id: int, *, now: float | None = None) -> Task | None:
    """The actor's live task in this job (working or stopped), to resume it; None if he holds none."""
    t = dbm.now() if now is None else now
    with ctx.db.read() as conn:
        found = conn.execute(SEL_JOB_OWN, {"b_job": job_id, "worker": actor.user_id, "now": t}).first()
        job = _check_job(actor, found, job_id, found.active if found is not None else None)
        facts = cache.remember_job(ctx.memory, job)
        if facts is None or job.own is None:  # not InProgress, or no live task
            return None
        task = load_task(conn, facts, job.own)
    ctx.memory.remember_assignment(task.assignment_id, task.job_id, task.object_idx)
    return task
