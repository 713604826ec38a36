"""A worker's submit: the answer is checked (task type, labels, NER spans against the object's text, adjustment
``initialValueModified``) and committed only by the lease holder while the lease is valid, through the guarded
UPDATE of ``gtcore.queue.actions``; the same transaction records what became due (``gtcore.jobs.due``).

A submit of a task this process handed out (``ctx.memory`` knows its job and object) checks the team,
the job's lifetime and the answer before its transaction, which then starts with the guarded UPDATE
(``FAST_SUBMIT``: the owner, the user row's is_active and the remembered job and object are in its WHERE too);
only when it changes nothing are the row loaded and the checks run, in their usual order, to say why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.queue import answer_checks as answers_mod
from gtcore.queue import facts as cache
from gtcore.queue import leases
from gtcore.queue.actions import ACTIVE_TIME, LIVE_UPDATE, NOW, checked, lost
from gtcore.queue.answer_checks_spans import check_spans
from gtcore.queue.previous import previous_for
from gtcore.queue.span_text import spans_text

A = dbm.assignments
J = dbm.jobs
U = dbm.users


@dataclass(frozen=True)
class SubmitResult:
    response_uri: str | None  # always None now: the background workers write the object's file once it is complete
    object_done: bool  # this answer completed the object (its worker-response file became due)
    job_done: bool  # ... and the job (finishing it became due)


SUBMIT = LIVE_UPDATE.values(
    status="submitted", submitted_at=NOW, answer_json=bindparam("answer"), time_spent=ACTIVE_TIME, updated_at=NOW
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
            row = checked(conn, actor, assignment_id, t, "submit")
            clean = answers_mod.validate_answer(row.task_type, json.loads(row.labels_json), answer)
            if spans_of is not None:
                check_spans(clean, spans_of)
            if row.task_type == "AdjustmentBoundingBox":
                clean = _complete_adjustment(conn, row, clean)
            text = json.dumps(clean, ensure_ascii=False)
            params = {"aid": assignment_id, "owner": row.worker_id, "now": t, "answer": text}
            got = conn.execute(SUBMIT, params).first()
            if got is None:
                raise lost(conn, assignment_id, t, "submit")
            done = leases.bump(conn, row.job_id, row.object_idx, t, answers=1)
            finished = leases.settled(conn, ctx.memory, row.job_id, t) if done else False
            return done, finished

    object_done, job_done = leases.retrying(tx)
    ctx.memory.forget_assignment(assignment_id)
    return SubmitResult(response_uri=None, object_done=object_done, job_done=job_done)
