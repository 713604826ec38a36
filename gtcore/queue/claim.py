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
active, no live lease of his in the job, no run-out lease in the job: ``_guards``). SQLite then claims in two
statements like the bare loop, PostgreSQL in the user lock plus one. When that take changes nothing the full
claim above runs in the same transaction and decides (resume, expiry, refusals, or nothing to take).

Correctness comes from the conditional UPDATE and the unique key, not from what Python read.
The per-task actions live in ``gtcore.queue.actions`` and the expiry in ``gtcore.queue.leases``;
``gtcore.queue.api`` gathers them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Float, Integer, and_, bindparam, case, literal, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor, require_team_member
from gtcore.core.errors import JobClosed, NotFound, PermissionDenied
from gtcore.queue import facts as cache
from gtcore.queue.facts import JobFacts
from gtcore.queue.leases import LIVE, candidates, const, expire_job_leases, one_of, retrying
from gtcore.queue.lifetime import expire_job_lifetime, lifetime_over
from gtcore.queue.previous import previous_of

A = dbm.assignments
O = dbm.objects  # noqa: E741
J = dbm.jobs
U = dbm.users
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Task:
    assignment_id: int
    job_id: int
    job_name: str
    object_idx: int  # datasetObjectId
    source_ref: str | None
    line: dict  # the input manifest line
    task_type: str
    labels: list[str]
    lease_expires_at: float
    accepted_at: float
    draft: dict | None  # saved work in progress (save_draft), to re-open the canvas with
    status: str  # leased | stopped
    instructions: dict
    previous: dict | None  # AdjustmentBoundingBox: {"attribute","boundingBoxes","inputImageProperties"}
    object_count: int = 0  # objects in the job, for "object 3 of 12"


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
UNTAKE = update(O).where(O.c.job_id == bindparam("b_job"), O.c.idx == bindparam("b_idx")).values(taken=O.c.taken - 1)
_key = ["job_id", "object_idx", "worker_id"]
_new_lease = {
    "job_id": bindparam("p_job"),
    "object_idx": bindparam("p_idx"),
    "worker_id": bindparam("p_worker"),
    "status": "leased",
    "accepted_at": bindparam("now"),
    "lease_expires_at": bindparam("expires"),
    "updated_at": bindparam("now"),
}
INSERT_SQLITE = sqlite.insert(A).values(**_new_lease).on_conflict_do_nothing(index_elements=_key).returning(A.c.id)
_fresh = A.c.status == "released"  # a released row starts afresh; an expired one keeps its draft (crash case)
REUSE = (
    update(A)
    .where(
        A.c.job_id == bindparam("p_job"),
        A.c.object_idx == bindparam("p_idx"),
        A.c.worker_id == bindparam("p_worker"),
        one_of(A.c.status, ("released", "expired")),
    )
    .values(
        status="leased",
        accepted_at=bindparam("now"),
        lease_expires_at=bindparam("expires"),
        submitted_at=None,
        answer_json=None,
        decline_reason=None,
        response_uri=None,
        draft_json=case((_fresh, None), else_=A.c.draft_json),
        draft_updated_at=case((_fresh, None), else_=A.c.draft_updated_at),
        time_spent=case((_fresh, None), else_=A.c.time_spent),
        updated_at=bindparam("now"),
    )
    .returning(A.c.id, A.c.draft_json)
)
TASK = (
    select(A, O.c.line_json, O.c.source_ref)
    .select_from(A.join(O, and_(O.c.job_id == A.c.job_id, O.c.idx == A.c.object_idx)))
    .where(A.c.id == bindparam("aid"))
)


def _guards(job: Any, worker: Any, now: Any, pg: bool) -> list[Any]:
    """What step 1-2 of the module docstring look at, as conditions of the take itself (the fast claim): the job
    runs (and is the one whose facts were used), the worker is active (PostgreSQL read it under the user lock),
    holds no live lease in the job (resume), and no lease of the job has run out (expiry first). Any of them
    false: the take changes nothing."""
    created = bindparam("created", type_=Float)
    own = select(A.c.id).where(A.c.job_id == job, A.c.worker_id == worker, one_of(A.c.status, LIVE)).exists()
    stale = select(A.c.id).where(A.c.job_id == job, one_of(A.c.status, LIVE), A.c.lease_expires_at < now).exists()
    # created_at: the facts are of this job (not of a job of the same id in a database made again since)
    running = select(J.c.id).where(J.c.id == job, J.c.status == const("InProgress"), J.c.created_at == created)
    guards = [running.exists(), ~own, ~stale]
    if not pg:
        guards.append(select(U.c.id).where(U.c.id == worker, U.c.is_active.is_(True)).exists())
    return guards


def _take_stmt(pg: bool, excluded: list[int], guarded: bool = False, wait: bool = False) -> Any:
    """The claim of the next candidate object in one statement (see the module docstring, step 3); ``guarded``:
    only if the checks of steps 1-2 pass (``_guards``), for the fast claim; ``wait`` (PostgreSQL): wait for a
    candidate row another transaction holds instead of skipping it (``_take``'s second look).

    The candidate is the worker's first claimable open object of the whole job (``candidates`` without its
    window), taken only if it lies in the window, i.e. fewer than ``MaxConcurrentTaskCount`` open objects come
    before it. That is the first claimable object of the window (every object of the window comes before every
    open object outside it) without reading the whole window on every claim: the objects before the candidate
    are the few in flight."""
    cand, win = O.alias("cand"), O.alias("win")
    job, worker = bindparam("b_job", type_=Integer), bindparam("worker", type_=Integer)
    now = bindparam("now", type_=Float)
    pick = candidates(job, worker, None, excluded, table=cand)
    pick = pick.with_only_columns(cand.c.idx).limit(1)
    if pg:
        pick = pick.with_for_update(skip_locked=not wait, of=cand)
    before = select(win.c.idx).where(win.c.job_id == job, win.c.status == const("open"), win.c.held.is_(False))
    window_full = before.where(win.c.idx < O.c.idx).order_by(win.c.idx).limit(1).offset(bindparam("skip")).exists()
    take = (
        update(O)
        .where(*(_guards(job, worker, now, pg) if guarded else []))
        .where(O.c.job_id == job, O.c.idx == pick.scalar_subquery(), O.c.taken < O.c.needed)
        .where(O.c.status == const("open"), ~window_full)
        .values(taken=O.c.taken + 1, updated_at=now)
        .returning(O.c.idx, O.c.line_json, O.c.source_ref)
    )
    if not pg:
        return take
    took = take.cte("took")
    lease = select(job, took.c.idx, worker, literal("leased"), now, bindparam("expires", type_=Float), now)
    cols = ["job_id", "object_idx", "worker_id", "status", "accepted_at", "lease_expires_at", "updated_at"]
    ins = postgresql.insert(A).from_select(cols, lease).on_conflict_do_nothing(index_elements=_key)
    ins_cte = ins.returning(A.c.id).cte("ins")
    return select(took.c.idx, took.c.line_json, took.c.source_ref, ins_cte.c.id).select_from(
        took.outerjoin(ins_cte, true())
    )


TAKE = {(pg, g): dbm.Prepared(_take_stmt(pg, [], g)) for pg in (False, True) for g in (False, True)}
TAKE_WAITING = dbm.Prepared(_take_stmt(True, [], False, wait=True))
_job_b, _worker_b = bindparam("b_job", type_=Integer), bindparam("worker", type_=Integer)
CLAIMABLE = dbm.Prepared(  # any object claimable by the worker now, locks ignored (``_take``'s second look)
    select(candidates(_job_b, _worker_b, bindparam("window", type_=Integer)).limit(1).exists())
)
P_INSERT_SQLITE = dbm.Prepared(INSERT_SQLITE)
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


def _make_task(conn: Connection, job: JobFacts, aid: int, idx: int, line_json: str, source_ref: str | None,
               accepted_at: float, expires: float, status: str, draft_json: str | None) -> Task:  # fmt: skip
    line = json.loads(line_json)
    if job.gold:  # a gold object is served like any other: its known answer never reaches the worker's task
        line.pop(job.gold, None)
    return Task(
        assignment_id=aid,
        job_id=job.id,
        job_name=job.name,
        object_idx=idx,
        source_ref=source_ref,
        line=line,
        task_type=job.task_type,
        labels=json.loads(job.labels_json),
        lease_expires_at=expires,
        accepted_at=accepted_at,
        draft=json.loads(draft_json) if draft_json else None,
        status=status,
        instructions=json.loads(job.instructions_json or "{}"),
        previous=previous_of(conn, job, line),
        object_count=job.total_objects,
    )


def _task(conn: Connection, job: JobFacts, assignment_id: int) -> Task:
    r = conn.execute(TASK, {"aid": assignment_id}).first()
    if r is None:
        raise NotFound(f"task {assignment_id} does not exist")
    return _make_task(
        conn, job, r.id, r.object_idx, r.line_json, r.source_ref, r.accepted_at, r.lease_expires_at, r.status,
        r.draft_json,
    )  # fmt: skip


def _take(conn: Connection, job: JobFacts, worker: int, now: float, pg: bool, guarded: bool = False) -> Task | None:
    """Take the next candidate object and lease it to the worker (step 3-4 of the module docstring)."""
    if job.max_concurrent < 1:  # an empty window
        return None
    params = {"b_job": job.id, "worker": worker, "now": now, "skip": job.max_concurrent - 1,
              "expires": now + job.task_time_limit, "created": job.created_at}  # fmt: skip
    excluded: list[int] = []
    wait = False
    for _ in range(MAX_ATTEMPTS):
        if excluded:
            found = conn.execute(_take_stmt(pg, excluded, guarded, wait), params).first()
            got = tuple(found) if found is not None else None
        elif wait:
            got = TAKE_WAITING.first(conn, params)
        else:
            got = TAKE[pg, guarded].first(conn, params)
        if got is None:
            # PostgreSQL skipped the rows other transactions held (a claim, a submit): "nothing" is only the
            # answer when no object is claimable regardless of locks (read committed: this statement sees
            # every commit so far); else wait for the held row and look again (issue 28: a false "nothing"
            # made annotators stop with the job at 999 of 1,000). SQLite's writers are serialized: no skipping.
            if not pg or guarded or not _claimable(conn, job, worker, excluded):
                return None
            wait = not wait  # alternate: wait on the held row, then skip-locked again (the next one may be free)
            continue
        idx, line_json, source_ref = got[0], got[1], got[2]
        lease = {"p_job": job.id, "p_idx": idx, "p_worker": worker, "now": now, "expires": params["expires"]}
        if pg:
            aid = got[3]
        else:
            inserted = P_INSERT_SQLITE.first(conn, lease)
            aid = inserted[0] if inserted is not None else None
        draft = None
        if aid is None:  # a row of this worker exists: only a released/expired one may be re-used
            reused = conn.execute(REUSE, lease).first()
            if reused is None:
                conn.execute(UNTAKE, {"b_job": job.id, "b_idx": idx})
                excluded.append(idx)
                continue
            aid, draft = reused.id, reused.draft_json
        return _make_task(conn, job, int(aid), idx, line_json, source_ref, now, params["expires"], "leased", draft)
    return None


def _claimable(conn: Connection, job: JobFacts, worker: int, excluded: list[int]) -> bool:
    params = {"b_job": job.id, "worker": worker, "window": job.max_concurrent}
    if not excluded:
        return bool(CLAIMABLE.first(conn, params)[0])  # type: ignore[index]
    query = select(candidates(_job_b, _worker_b, bindparam("window", type_=Integer), excluded).limit(1).exists())
    return bool(conn.execute(query, params).scalar())


def _fast_claim(conn: Connection, actor: Actor, job: JobFacts | None, active: Any, t: float, pg: bool) -> Task | None:
    """The claim in one guarded take (``_guards``) when the job's facts are known and the actor passes the checks
    of ``_check_job``; None when it took nothing (the full claim then runs, in the same transaction, and decides)."""
    if job is None or actor.user_id is None or (pg and not active) or lifetime_over(job, t):
        return None
    if not cache.in_team(actor, job.team_id):
        return None  # require_team_member would refuse: the full claim says why
    return _take(conn, job, int(actor.user_id), t, pg, guarded=True)


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
                return _task(conn, facts, job.own), None
            return _take(conn, facts, worker, t, pg), None

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
        task = _task(conn, facts, job.own)
    ctx.memory.remember_assignment(task.assignment_id, task.job_id, task.object_idx)
    return task
