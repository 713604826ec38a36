"""What a worker does with a task he holds: heartbeat, draft, decline, release, stop, flag (and submit, in
``gtcore.queue.submit``, with the guarded statements and checks shared from here).

Every call runs in one write transaction that loads the assignment, checks the actor (team of the job, and
that the assignment is his: PermissionDenied otherwise), says why the action is refused when the task is no
longer his to work on (TaskError), and changes state only through an UPDATE guarded by ``status IN
('leased','stopped') AND lease_expires_at >= now AND job InProgress``. So a submit after expiry, a second
submit, or a submit racing a release is refused with the reason, and never overwrites anything.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor, require_team_member
from gtcore.core.errors import NotFound, PermissionDenied, Problem, TaskError, ValidationError
from gtcore.queue import drafts, leases

A = dbm.assignments
O = dbm.objects  # noqa: E741
J = dbm.jobs
U = dbm.users

IDLE_GAP_SECONDS = 120.0  # at most this much time between two actions counts as active time
MAX_DRAFT_BYTES = 2_000_000
MAX_REASON = 1000


LOAD = (
    select(
        A,
        J.c.name.label("job_name"),
        J.c.status.label("job_status"),
        J.c.team_id,
        J.c.task_type,
        J.c.labels_json,
        J.c.task_time_limit,
        J.c.output_path,
        J.c.created_at.label("job_created_at"),
        J.c.availability_lifetime,
        U.c.worker_id.label("public_worker_id"),
        U.c.sub,
        U.c.is_active.label("worker_active"),
    )
    .select_from(A.join(J, J.c.id == A.c.job_id).join(U, U.c.id == A.c.worker_id))
    .where(A.c.id == bindparam("aid"))
)
_running = select(J.c.id).where(J.c.id == A.c.job_id, J.c.status == leases.const("InProgress")).exists()
LIVE_UPDATE = update(A).where(
    A.c.id == bindparam("aid"),
    A.c.worker_id == bindparam("owner"),
    leases.one_of(A.c.status, leases.LIVE),
    A.c.lease_expires_at >= bindparam("now"),
    _running,
)
_gap: Any = bindparam("now") - A.c.updated_at
ACTIVE_TIME = func.coalesce(A.c.time_spent, 0.0) + case(
    (A.c.status != "leased", 0.0), (_gap > IDLE_GAP_SECONDS, IDLE_GAP_SECONDS), (_gap < 0, 0.0), else_=_gap
)
NOW: Any = bindparam("now")
HEARTBEAT = LIVE_UPDATE.values(
    lease_expires_at=bindparam("expires"), status="leased", time_spent=ACTIVE_TIME, updated_at=NOW
)
DRAFT = LIVE_UPDATE.values(
    draft_json=bindparam("draft"),
    draft_updated_at=NOW,
    lease_expires_at=bindparam("expires"),
    status="leased",
    time_spent=ACTIVE_TIME,
    updated_at=NOW,
)
DRAFT_OVER = DRAFT.where(A.c.draft_json.is_not_distinct_from(bindparam("seen")))  # only over the draft checked
DECLINE = LIVE_UPDATE.values(status="declined", decline_reason=bindparam("reason"), updated_at=NOW)
RELEASE = LIVE_UPDATE.values(status="released", draft_json=None, draft_updated_at=None, time_spent=None, updated_at=NOW)
STOP = LIVE_UPDATE.values(status="stopped", time_spent=ACTIVE_TIME, updated_at=NOW)


def load(conn: Connection, assignment_id: int) -> Any:
    row = conn.execute(LOAD, {"aid": assignment_id}).first()
    if row is None:
        raise NotFound(f"task {assignment_id} does not exist")
    return row


def check_owner(actor: Actor, row: Any) -> None:
    require_team_member(actor, row.team_id, row.job_name)
    if not actor.system and row.worker_id != actor.user_id:
        raise PermissionDenied(f"task {row.id} of job {row.job_name} belongs to another worker")
    if not actor.system and not row.worker_active:  # the user row decides, not an Actor built earlier
        raise PermissionDenied(f"{actor.email} is disabled and cannot work on job {row.job_name}")


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def refusal(row: Any, now: float, action: str) -> TaskError | None:
    """Why ``action`` is refused on this assignment row at ``now`` (None when it is allowed)."""
    where = f"task {row.id} (object {row.object_idx} of job {row.job_name})"
    if row.status == "submitted":
        return TaskError(f"cannot {action} {where}: it was already submitted at {_when(row.submitted_at)}")
    if row.status == "declined":
        return TaskError(f"cannot {action} {where}: you declined it")
    if row.status == "released":
        return TaskError(f"cannot {action} {where}: you released it; it went back to the pool")
    if row.job_status != "InProgress":
        return TaskError(f"cannot {action} {where}: the job is {row.job_status}, its tasks are closed")
    if now > row.job_created_at + row.availability_lifetime:
        return TaskError(
            f"cannot {action} {where}: the job's task availability lifetime ended at "
            f"{_when(row.job_created_at + row.availability_lifetime)}; unfinished objects are failed"
        )
    if row.status == "expired" or row.lease_expires_at < now:
        return TaskError(
            f"cannot {action} {where}: its time limit ended at {_when(row.lease_expires_at)}; "
            "the task went back to the pool and nothing was submitted"
        )
    return None


def checked(conn: Connection, actor: Actor, assignment_id: int, now: float, action: str) -> Any:
    row = load(conn, assignment_id)
    check_owner(actor, row)
    err = refusal(row, now, action)
    if err:
        raise err
    return row


def lost(conn: Connection, assignment_id: int, now: float, action: str) -> TaskError:
    """The guarded UPDATE hit nothing (a concurrent change on PostgreSQL): say why, from a fresh read."""
    row = load(conn, assignment_id)
    return refusal(row, now, action) or TaskError(f"cannot {action} task {assignment_id}: it changed meanwhile")


def _update(ctx: Context, actor: Actor, aid: int, now: float, action: str, stmt: Any, *, renew: bool = False,
            check: Any = None, **extra: Any) -> Any:  # fmt: skip
    """Load + check + guarded UPDATE in one write transaction (``renew``: the expiry set to ``deadline(row)``;
    ``check(row)`` may refuse after the usual checks, or return more parameters for ``stmt``)."""

    def tx() -> Any:
        with ctx.db.write() as conn:
            row = checked(conn, actor, aid, now, action)
            more = check(row) if check is not None else {}
            params = {"aid": aid, "owner": row.worker_id, "now": now, **extra, **more}
            if renew:  # the session stays alive, the deadline does not move (TaskTimeLimitInSeconds from acceptance)
                params["expires"] = deadline(row)
            if conn.execute(stmt, params).rowcount != 1:
                raise lost(conn, aid, now, action)
            return row

    return leases.retrying(tx)


def deadline(row: Any) -> float:
    """When the worker's time for this task ends: acceptance + TaskTimeLimitInSeconds, never later."""
    return float(row.accepted_at + row.task_time_limit)


def heartbeat(ctx: Context, actor: Actor, assignment_id: int, *, now: float | None = None) -> float:
    """The annotator is active (active time counted); return the task's deadline (``deadline``), which a
    heartbeat never moves: Ground Truth's TaskTimeLimitInSeconds counts from acceptance."""
    t = dbm.now() if now is None else now
    row = _update(ctx, actor, assignment_id, t, "renew", HEARTBEAT, renew=True)
    return deadline(row)


def save_draft(
    ctx: Context,
    actor: Actor,
    assignment_id: int,
    draft: dict,
    *,
    replaces: dict | None = None,
    now: float | None = None,
) -> None:
    """Keep the work in progress server-side (every canvas change); the deadline stays where it is.

    ``replaces`` is the draft the caller's screen holds as saved (what it opened with, or saved since). An
    empty draft never overwrites a stored non-empty draft other than that one (a screen that lost its drawing,
    or a stale tab, would wipe the work): TaskError, and the stored draft stays.
    """
    t = dbm.now() if now is None else now
    if not isinstance(draft, dict):
        raise ValidationError([Problem("a draft must be an object (dict)", field="draft")])
    try:
        text = json.dumps(draft, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError([Problem(f"the draft is not plain JSON: {exc}", field="draft")]) from exc
    if len(text.encode("utf-8")) > MAX_DRAFT_BYTES:
        raise ValidationError([Problem(f"the draft is larger than {MAX_DRAFT_BYTES} bytes", field="draft")])
    if not drafts.is_empty(draft):
        _update(ctx, actor, assignment_id, t, "save a draft of", DRAFT, renew=True, draft=text)
        return
    # the draft read in the check must still be the stored one when the UPDATE runs
    check = drafts.keep_work(replaces)
    _update(ctx, actor, assignment_id, t, "save a draft of", DRAFT_OVER, renew=True, check=check, draft=text)


def stop_and_resume_later(ctx: Context, actor: Actor, assignment_id: int, *, now: float | None = None) -> None:
    """Pause: status 'stopped', lease and draft kept; claim_next/current_task give it back while it lasts."""
    t = dbm.now() if now is None else now
    _update(ctx, actor, assignment_id, t, "stop", STOP)


def _give_back(ctx: Context, actor: Actor, aid: int, now: float | None, action: str, stmt: Any, **extra: Any) -> None:
    """Decline or release: the lease ends, the object's ``taken`` drops, the object may settle."""
    t = dbm.now() if now is None else now
    declines = 1 if action == "decline" else 0

    def tx() -> None:
        with ctx.db.write() as conn:
            row = checked(conn, actor, aid, t, action)
            if conn.execute(stmt, {"aid": aid, "owner": row.worker_id, "now": t, **extra}).rowcount != 1:
                raise lost(conn, aid, t, action)
            if leases.bump(conn, row.job_id, row.object_idx, t, taken=-1, declines=declines):
                leases.settled(conn, ctx.memory, row.job_id, t)

    leases.retrying(tx)
    ctx.memory.forget_assignment(aid)


def decline(ctx: Context, actor: Actor, assignment_id: int, reason: str = "", *, now: float | None = None) -> None:
    """Never show this object to this worker again; enough declines fail the object."""
    _give_back(ctx, actor, assignment_id, now, "decline", DECLINE, reason=(reason or "")[:MAX_REASON])


def release(ctx: Context, actor: Actor, assignment_id: int, *, now: float | None = None) -> None:
    """Drop the work; the task goes back to the pool (for others, and for this worker later)."""
    _give_back(ctx, actor, assignment_id, now, "release", RELEASE)


def flag_object(ctx: Context, actor: Actor, assignment_id: int, reason: str) -> None:
    """Record that the object's image cannot be used (objects.image_error) for the team lead."""
    text = (reason or "").strip()
    if not text:
        raise ValidationError([Problem("say what is wrong with the image", field="reason")])
    with ctx.db.write() as conn:
        row = load(conn, assignment_id)
        check_owner(actor, row)
        conn.execute(
            update(O)
            .where(O.c.job_id == row.job_id, O.c.idx == row.object_idx)
            .values(image_error=text[:MAX_REASON], updated_at=dbm.now())
        )
