"""What a worker does with a task he holds: heartbeat, draft, submit, decline, release, stop, flag.

Every call runs in one write transaction that loads the assignment, checks the actor (team of the job, and
that the assignment is his: PermissionDenied otherwise), says why the action is refused when the task is no
longer his to work on (TaskError), and changes state only through an UPDATE guarded by ``status IN
('leased','stopped') AND lease_expires_at >= now AND job InProgress``. So a submit after expiry, a second
submit, or a submit racing a release is refused with the reason, and never overwrites anything.

A submit of a task this process handed out (``ctx.memory`` knows its job and object) checks the team,
the job's lifetime and the answer before its transaction, which then starts with the guarded UPDATE
(``FAST_SUBMIT``: the owner, the user row's is_active and the remembered job and object are in its WHERE too);
only when it changes nothing are the row loaded and the checks run, in their usual order, to say why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor, require_team_member
from gtcore.core.errors import NotFound, PermissionDenied, Problem, TaskError, ValidationError
from gtcore.queue import answer_checks as answers_mod
from gtcore.queue import drafts, leases
from gtcore.queue import facts as cache
from gtcore.queue.answer_checks_spans import check_spans
from gtcore.queue.previous import previous_for
from gtcore.queue.span_text import spans_text

A = dbm.assignments
O = dbm.objects  # noqa: E741
J = dbm.jobs
U = dbm.users

IDLE_GAP_SECONDS = 120.0  # at most this much time between two actions counts as active time
MAX_DRAFT_BYTES = 2_000_000
MAX_REASON = 1000


@dataclass(frozen=True)
class SubmitResult:
    response_uri: str | None  # always None now: the background workers write the object's file once it is complete
    object_done: bool  # this answer completed the object (its worker-response file became due)
    job_done: bool  # ... and the job (finishing it became due)


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
_live = update(A).where(
    A.c.id == bindparam("aid"),
    A.c.worker_id == bindparam("owner"),
    leases.one_of(A.c.status, leases.LIVE),
    A.c.lease_expires_at >= bindparam("now"),
    _running,
)
_gap: Any = bindparam("now") - A.c.updated_at
_active = func.coalesce(A.c.time_spent, 0.0) + case(
    (A.c.status != "leased", 0.0), (_gap > IDLE_GAP_SECONDS, IDLE_GAP_SECONDS), (_gap < 0, 0.0), else_=_gap
)
_now: Any = bindparam("now")
HEARTBEAT = _live.values(lease_expires_at=bindparam("expires"), status="leased", time_spent=_active, updated_at=_now)
DRAFT = _live.values(
    draft_json=bindparam("draft"),
    draft_updated_at=_now,
    lease_expires_at=bindparam("expires"),
    status="leased",
    time_spent=_active,
    updated_at=_now,
)
DRAFT_OVER = DRAFT.where(A.c.draft_json.is_not_distinct_from(bindparam("seen")))  # only over the draft checked
SUBMIT = _live.values(
    status="submitted", submitted_at=_now, answer_json=bindparam("answer"), time_spent=_active, updated_at=_now
).returning(A.c.time_spent)
# the fast submit's guarded UPDATE also asks what check_owner reads of the user row (the rest is checked before),
# and that the remembered job and object are this assignment's (not a row of a database made again since)
FAST_SUBMIT = dbm.Prepared(
    SUBMIT.where(
        A.c.job_id == bindparam("fjob"),
        A.c.object_idx == bindparam("fidx"),
        select(J.c.id).where(J.c.id == bindparam("fjob"), J.c.created_at == bindparam("fcreated")).exists(),
        select(U.c.id).where(U.c.id == A.c.worker_id, U.c.is_active.is_(True)).exists(),
    )
)
DECLINE = _live.values(status="declined", decline_reason=bindparam("reason"), updated_at=_now)
RELEASE = _live.values(status="released", draft_json=None, draft_updated_at=None, time_spent=None, updated_at=_now)
STOP = _live.values(status="stopped", time_spent=_active, updated_at=_now)


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


def _checked(conn: Connection, actor: Actor, assignment_id: int, now: float, action: str) -> Any:
    row = load(conn, assignment_id)
    check_owner(actor, row)
    err = refusal(row, now, action)
    if err:
        raise err
    return row


def _lost(conn: Connection, assignment_id: int, now: float, action: str) -> TaskError:
    """The guarded UPDATE hit nothing (a concurrent change on PostgreSQL): say why, from a fresh read."""
    row = load(conn, assignment_id)
    return refusal(row, now, action) or TaskError(f"cannot {action} task {assignment_id}: it changed meanwhile")


def _update(ctx: Context, actor: Actor, aid: int, now: float, action: str, stmt: Any, *, renew: bool = False,
            check: Any = None, **extra: Any) -> Any:  # fmt: skip
    """Load + check + guarded UPDATE in one write transaction (``renew``: the expiry set to ``deadline(row)``;
    ``check(row)`` may refuse after the usual checks, or return more parameters for ``stmt``)."""

    def tx() -> Any:
        with ctx.db.write() as conn:
            row = _checked(conn, actor, aid, now, action)
            more = check(row) if check is not None else {}
            params = {"aid": aid, "owner": row.worker_id, "now": now, **extra, **more}
            if renew:  # the session stays alive, the deadline does not move (TaskTimeLimitInSeconds from acceptance)
                params["expires"] = deadline(row)
            if conn.execute(stmt, params).rowcount != 1:
                raise _lost(conn, aid, now, action)
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


def _complete_adjustment(conn: Connection, row: Any, answer: dict) -> dict:
    """Fill ``initialValueModified`` when the page did not: compare with the chained-from boxes."""
    inner = answer["boundingBox"]
    if "initialValueModified" not in inner:
        previous = previous_for(conn, row.job_id, row.object_idx)
        before = previous["boundingBoxes"] if previous else []
        inner["initialValueModified"] = not answers_mod.boxes_equal(inner["boundingBoxes"], before)
    return answer


def _fast_answer(ctx: Context, actor: Actor, aid: int, answer: dict, now: float) -> dict[str, Any] | None:
    """The fast submit's parameters (the checked answer, the job and object it is for), when the assignment and
    its job are known to this process (``ctx.memory``, ``gtcore.queue.facts``), the actor passes the team check,
    the job's lifetime has not ended and the answer is valid; None otherwise (the full submit then checks and says
    why, in its order)."""
    if actor.system or actor.user_id is None:
        return None
    known = ctx.memory.assignment(aid)
    job = ctx.memory.job_facts(known[0]) if known is not None else None
    if known is None or job is None or job.task_type == "AdjustmentBoundingBox":
        return None
    if not cache.in_team(actor, job.team_id) or now > job.created_at + job.availability_lifetime:
        return None
    try:
        clean = answers_mod.validate_answer(job.task_type, list(job.labels), answer)
        text = json.dumps(clean, ensure_ascii=False)
    except Exception:  # the full submit raises it, after the checks that come first
        return None
    return {"aid": aid, "owner": actor.user_id, "now": now, "answer": text, "fjob": job.id, "fidx": known[1],
            "fcreated": job.created_at}  # fmt: skip


def submit(ctx: Context, actor: Actor, assignment_id: int, answer: dict, *, now: float | None = None) -> SubmitResult:
    """Commit the answer (only the lease holder, only while the lease is valid) and, in the same transaction,
    record what became due (``gtcore.jobs.due``): the object's worker-response file, stopping conditions, the
    intermediate manifest, finishing the job. Nothing else: the background workers do that work.

    Fast path: when ``_fast_answer`` could check the answer before the transaction, the transaction starts with
    the guarded UPDATE (``FAST_SUBMIT``: what the checks read is in its WHERE); only when that changes nothing
    does it load the row and run the checks, which then say why (or find it was a race and go on as usual)."""
    t = dbm.now() if now is None else now
    spans_of = spans_text(ctx, assignment_id)  # NER: the object's text, for the spans' text rules
    fast = None if spans_of is not None else _fast_answer(ctx, actor, assignment_id, answer, t)

    def tx() -> tuple[bool, bool]:
        with ctx.db.write() as conn:
            if fast is not None and FAST_SUBMIT.first(conn, fast) is not None:
                done = leases.bump(conn, fast["fjob"], fast["fidx"], t, answers=1)
                return done, leases.settled(conn, ctx.memory, fast["fjob"], t) if done else False
            row = _checked(conn, actor, assignment_id, t, "submit")
            clean = answers_mod.validate_answer(row.task_type, json.loads(row.labels_json), answer)
            if spans_of is not None:
                check_spans(clean, spans_of)
            if row.task_type == "AdjustmentBoundingBox":
                clean = _complete_adjustment(conn, row, clean)
            text = json.dumps(clean, ensure_ascii=False)
            params = {"aid": assignment_id, "owner": row.worker_id, "now": t, "answer": text}
            got = conn.execute(SUBMIT, params).first()
            if got is None:
                raise _lost(conn, assignment_id, t, "submit")
            done = leases.bump(conn, row.job_id, row.object_idx, t, answers=1)
            finished = leases.settled(conn, ctx.memory, row.job_id, t) if done else False
            return done, finished

    object_done, job_done = leases.retrying(tx)
    ctx.memory.forget_assignment(assignment_id)
    return SubmitResult(response_uri=None, object_done=object_done, job_done=job_done)


def _give_back(ctx: Context, actor: Actor, aid: int, now: float | None, action: str, stmt: Any, **extra: Any) -> None:
    """Decline or release: the lease ends, the object's ``taken`` drops, the object may settle."""
    t = dbm.now() if now is None else now
    declines = 1 if action == "decline" else 0

    def tx() -> None:
        with ctx.db.write() as conn:
            row = _checked(conn, actor, aid, t, action)
            if conn.execute(stmt, {"aid": aid, "owner": row.worker_id, "now": t, **extra}).rowcount != 1:
                raise _lost(conn, aid, t, action)
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
