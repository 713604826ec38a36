"""The annotators' task queue: claim the next task of a job, resume a held one, list a worker's jobs.

A claim is one write transaction (``Database.write``; BEGIN IMMEDIATE on SQLite):

1. read the job with the worker's live lease in it, if any (PostgreSQL first locks the worker's user row and
   looks again, so two tabs of one worker cannot claim two tasks at once); a job not InProgress hands out
   nothing; then expire the job's stale leases (``gtcore.queue.leases``);
2. a live lease of this worker in this job is returned as is (resume; ``stopped`` becomes ``leased``);
3. a candidate is an ``open`` object among the first ``MaxConcurrentTaskCount`` open objects of the job
   (by index: objects never re-open, so at most that many objects are in flight), with ``taken < needed``,
   fewer declines than answers needed, and no assignment of this worker that blocks it (submitted, declined,
   live). PostgreSQL takes it ``FOR UPDATE SKIP LOCKED``;
4. ``UPDATE objects SET taken = taken + 1 WHERE ... AND taken < needed AND status = 'open'`` must hit one row,
   then the assignment is inserted (``ON CONFLICT DO NOTHING`` on the unique (job, object, worker) key) or the
   worker's released/expired row is re-used by a conditional UPDATE; if either loses, the next candidate.

Correctness comes from the conditional UPDATE and the unique key, not from what Python read.
The per-task actions live in ``gtcore.queue.actions`` and the expiry in ``gtcore.queue.leases``;
``gtcore.queue.api`` gathers them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor, require_team_member
from gtcore.core.errors import JobClosed, NotFound, PermissionDenied
from gtcore.output.writer import gold_attribute
from gtcore.queue.leases import CANDIDATE, CANDIDATE_PG, LIVE, candidates, expire_job_leases, one_of, retrying
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
LOCK_USER = select(U.c.id).where(U.c.id == bindparam("worker")).with_for_update()
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
SEL_JOB_OWN = select(J, LIVE_LEASE.scalar_subquery().label("own")).where(J.c.id == bindparam("b_job"))
RESUME = (  # the pause ends now: updated_at restarts the active-time clock
    update(A)
    .where(A.c.id == bindparam("aid"), A.c.status == "stopped")
    .values(status="leased", updated_at=bindparam("now"))
)
TAKE = (
    update(O)
    .where(
        O.c.job_id == bindparam("b_job"), O.c.idx == bindparam("b_idx"), O.c.taken < O.c.needed, O.c.status == "open"
    )
    .values(taken=O.c.taken + 1, updated_at=bindparam("now"))
)
UNTAKE = update(O).where(O.c.job_id == bindparam("b_job"), O.c.idx == bindparam("b_idx")).values(taken=O.c.taken - 1)
_new_lease = {
    "job_id": bindparam("p_job"),
    "object_idx": bindparam("p_idx"),
    "worker_id": bindparam("p_worker"),
    "status": "leased",
    "accepted_at": bindparam("now"),
    "lease_expires_at": bindparam("expires"),
    "updated_at": bindparam("now"),
}
_key = ["job_id", "object_idx", "worker_id"]
INSERT_SQLITE = sqlite.insert(A).values(**_new_lease).on_conflict_do_nothing(index_elements=_key).returning(A.c.id)
INSERT_PG = postgresql.insert(A).values(**_new_lease).on_conflict_do_nothing(index_elements=_key).returning(A.c.id)
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


ACTIVE = select(dbm.users.c.is_active).where(dbm.users.c.id == bindparam("uid"))


def _check_job(conn: Connection, actor: Actor, job: Any, job_id: int) -> Any:
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    require_team_member(actor, job.team_id, job.name)
    if actor.user_id is None:
        raise PermissionDenied("only a signed-in worker can take tasks")
    if not conn.execute(ACTIVE, {"uid": actor.user_id}).scalar():  # an Actor built before he was disabled
        raise PermissionDenied(f"{actor.email} is disabled and cannot take tasks of job {job.name}")
    return job


def _make_task(conn: Connection, job: Any, aid: int, idx: int, line_json: str, source_ref: str | None,
               accepted_at: float, expires: float, status: str, draft_json: str | None) -> Task:  # fmt: skip
    line = json.loads(line_json)
    gold = gold_attribute(job)
    if gold:  # a gold object is served like any other: its known answer never reaches the worker's task
        line.pop(gold, None)
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
        object_count=int(job.total_objects or 0),
    )


def _task(conn: Connection, job: Any, assignment_id: int) -> Task:
    r = conn.execute(TASK, {"aid": assignment_id}).first()
    if r is None:
        raise NotFound(f"task {assignment_id} does not exist")
    return _make_task(
        conn, job, r.id, r.object_idx, r.line_json, r.source_ref, r.accepted_at, r.lease_expires_at, r.status,
        r.draft_json,
    )  # fmt: skip


def _lease(conn: Connection, job: Any, cand: Any, worker: int, now: float, pg: bool) -> Task | None:
    """Insert this worker's assignment for the object, or re-use his released/expired row."""
    expires = now + job.task_time_limit
    params = {"p_job": job.id, "p_idx": cand.idx, "p_worker": worker, "now": now, "expires": expires}
    aid = conn.execute(INSERT_PG if pg else INSERT_SQLITE, params).scalar()
    draft = None
    if aid is None:  # a row of this worker exists: only a released/expired one may be re-used
        reused = conn.execute(REUSE, params).first()
        if reused is None:
            return None
        aid, draft = reused.id, reused.draft_json
    return _make_task(conn, job, int(aid), cand.idx, cand.line_json, cand.source_ref, now, expires, "leased", draft)


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
            params = {"b_job": job_id, "worker": actor.user_id, "now": t, "maxc": 0}
            job = _check_job(conn, actor, conn.execute(SEL_JOB_OWN, params).first(), job_id)
            worker = int(actor.user_id)  # type: ignore[arg-type]  # _check_job refused None
            if job.status != "InProgress":
                return None, job
            if lifetime_over(job, t):  # TaskAvailabilityLifetimeInSeconds ended: its open objects fail
                expire_job_lifetime(conn, job_id, t)
                return None, job
            own = job.own  # his live lease, if any (read with the job row)
            if pg:  # one claim at a time per worker (two tabs must not take two tasks): lock, then look again
                conn.execute(LOCK_USER, {"worker": worker})
                own = conn.execute(LIVE_LEASE, params).scalar()
            expire_job_leases(conn, job_id, t)
            if own is not None:
                conn.execute(RESUME, {"aid": own, "now": t})
                return _task(conn, job, own), job
            excluded: list[int] = []
            params["maxc"] = job.max_concurrent
            for _ in range(MAX_ATTEMPTS):
                if excluded:
                    q = candidates(job_id, worker, job.max_concurrent, excluded).limit(1)
                    cand = conn.execute(q.with_for_update(skip_locked=True, of=O) if pg else q).first()
                else:
                    cand = conn.execute(CANDIDATE_PG if pg else CANDIDATE, params).first()
                if cand is None:
                    break
                if conn.execute(TAKE, {"b_job": job_id, "b_idx": cand.idx, "now": t}).rowcount == 1:
                    task = _lease(conn, job, cand, worker, t, pg)
                    if task is not None:
                        return task, job
                    conn.execute(UNTAKE, {"b_job": job_id, "b_idx": cand.idx})
                excluded.append(cand.idx)
            return None, job

    task, job = retrying(tx)
    if job.status != "InProgress":
        raise JobClosed(f"job {job.name} is {job.status}: it hands out no more tasks", job.name, job.status)
    return task


def current_task(ctx: Context, actor: Actor, job_id: int, *, now: float | None = None) -> Task | None:
    """The actor's live task in this job (working or stopped), to resume it; None if he holds none."""
    t = dbm.now() if now is None else now
    with ctx.db.read() as conn:
        job = _check_job(conn, actor, conn.execute(SEL_JOB, {"b_job": job_id}).first(), job_id)
        if job.status != "InProgress":
            return None
        aid = conn.execute(LIVE_LEASE, {"b_job": job_id, "worker": actor.user_id, "now": t}).scalar()
        return None if aid is None else _task(conn, job, aid)
