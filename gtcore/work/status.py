"""What the pages show of the background work: the queue (pending, running, failed with the reason), how far the
output files lag behind the answers, and an admin's retry of a failed item."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, func, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import workqueue
from gtcore.core.access import Actor, require_admin, require_reader
from gtcore.core.errors import Conflict, NotFound

W = dbm.work_items
A = dbm.assignments
O = dbm.objects  # noqa: E741
J = dbm.jobs
FAILED_SHOWN = 50


@dataclass(frozen=True)
class FailedItem:
    id: int
    kind: str
    job_name: str | None
    attempts: int
    reason: str  # the last error's first line
    detail: str  # the whole recorded error
    failed_at: float


@dataclass(frozen=True)
class QueueStatus:
    pending: int  # waiting (due now or later: retries in backoff, delayed rewrites)
    due: int  # pending and due now
    running: int
    failed: int
    failed_items: list[FailedItem]
    answers_without_file: int  # answers of completed objects whose worker-response file is not written yet
    oldest_unwritten_seconds: float | None  # how long the oldest of them has waited
    finish_pending: bool  # finishing the job (consolidation, output.manifest) is due or running
    oldest_due_seconds: float | None = None  # how long the longest-waiting due item has been due


def queue_status(ctx: Context, actor: Actor, job_id: int | None = None, *, now: float | None = None) -> QueueStatus:
    """The queue, for every job or one (admins and auditors)."""
    require_reader(actor, action="see the background work")
    t = dbm.now() if now is None else now
    scope = [W.c.job_id == job_id] if job_id is not None else []
    with ctx.db.read() as conn:
        counts: dict[str, int] = {
            str(k): int(v)
            for k, v in conn.execute(select(W.c.status, func.count()).where(*scope).group_by(W.c.status)).all()
        }
        due, first_due = conn.execute(
            select(func.count(), func.min(W.c.run_after)).where(
                W.c.status == workqueue.PENDING, W.c.run_after <= t, *scope
            )
        ).one()
        failed_rows = conn.execute(
            select(W, J.c.name.label("job_name"))
            .select_from(W.outerjoin(J, J.c.id == W.c.job_id))
            .where(W.c.status == workqueue.FAILED, *scope)
            .order_by(W.c.updated_at.desc())
            .limit(FAILED_SHOWN)
        ).all()
        unwritten = (
            select(func.count(), func.min(A.c.submitted_at))
            .select_from(A.join(O, and_(O.c.job_id == A.c.job_id, O.c.idx == A.c.object_idx)))
            .where(A.c.status == "submitted", A.c.response_uri.is_(None), O.c.status != "open")
        )
        if job_id is not None:
            unwritten = unwritten.where(A.c.job_id == job_id)
        n_unwritten, oldest = conn.execute(unwritten).one()
        finishing = conn.execute(
            select(func.count()).where(
                W.c.kind == "jobs.finish", W.c.status.in_((workqueue.PENDING, workqueue.RUNNING)), *scope
            )
        ).scalar_one()
    items = [
        FailedItem(
            r.id,
            r.kind,
            r.job_name,
            int(r.attempts),
            (r.last_error or "").splitlines()[0][:300] if r.last_error else "",
            r.last_error or "",
            float(r.updated_at),
        )  # fmt: skip
        for r in failed_rows
    ]
    return QueueStatus(
        pending=int(counts.get(workqueue.PENDING, 0)),
        due=int(due),
        running=int(counts.get(workqueue.RUNNING, 0)),
        failed=int(counts.get(workqueue.FAILED, 0)),
        failed_items=items,
        answers_without_file=int(n_unwritten or 0),
        oldest_unwritten_seconds=None if oldest is None else max(0.0, t - float(oldest)),
        finish_pending=bool(finishing),
        oldest_due_seconds=None if first_due is None else max(0.0, t - float(first_due)),
    )


def retry(ctx: Context, actor: Actor, item_id: int) -> None:
    """An admin's retry of a failed item: pending again, due now, attempts from zero (the reason is kept until
    the next attempt). If the same work is already pending, that item covers it and this one is removed."""
    require_admin(actor, action="retry background work")
    t = dbm.now()
    with ctx.db.write() as conn:
        row = conn.execute(select(W).where(W.c.id == item_id)).first()
        if row is None:
            raise NotFound(f"work item {item_id} does not exist")
        if row.status != workqueue.FAILED:
            raise Conflict(f"work item {item_id} is {row.status}, not failed: nothing to retry")
        same = and_(W.c.kind == row.kind, W.c.key == row.key, W.c.status == workqueue.PENDING,
                    (W.c.job_id == row.job_id) if row.job_id is not None else W.c.job_id.is_(None))  # fmt: skip
        if conn.execute(select(W.c.id).where(same)).first() is not None:
            conn.execute(delete(W).where(W.c.id == item_id))
            return
        conn.execute(
            update(W)
            .where(W.c.id == item_id, W.c.status == workqueue.FAILED)
            .values(status=workqueue.PENDING, attempts=0, run_after=t, worker=None, lease_until=None, updated_at=t)
        )
