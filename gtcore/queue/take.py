"""Taking one object for a worker: steps 3-4 of ``gtcore.queue.claim``'s docstring, in one guarded statement or
two, and the retries when the worker's own row or a lock is in the way. ``guarded``: the take also carries the
checks the fast claim skipped (``_guards``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Float, Integer, bindparam, case, literal, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from gtcore.core import db as dbm
from gtcore.queue.facts import FixedJobFacts
from gtcore.queue.leases import LIVE, candidates, const, one_of
from gtcore.queue.task import Task, make_task

A = dbm.assignments
O = dbm.objects  # noqa: E741
J = dbm.jobs
U = dbm.users
MAX_ATTEMPTS = 20

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


def take(conn: Connection, job: FixedJobFacts, worker: int, now: float, pg: bool, guarded: bool = False) -> Task | None:
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
            if not pg or guarded or not claimable(conn, job, worker, excluded):
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
        return make_task(conn, job, int(aid), idx, line_json, source_ref, now, params["expires"], "leased", draft)
    return None


def claimable(conn: Connection, job: FixedJobFacts, worker: int, excluded: list[int]) -> bool:
    params = {"b_job": job.id, "worker": worker, "window": job.max_concurrent}
    if not excluded:
        return bool(CLAIMABLE.first(conn, params)[0])  # type: ignore[index]
    query = select(candidates(_job_b, _worker_b, bindparam("window", type_=Integer), excluded).limit(1).exists())
    return bool(conn.execute(query, params).scalar())
