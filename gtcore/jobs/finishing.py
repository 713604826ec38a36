"""What happens when a job's work ends: finish it (consolidate, write output, set final status).

Called by the background workers (``jobs.finish`` items, ``gtcore.work.handlers.jobs``): after a stop (final
status Stopped; the job is Stopping meanwhile, and the maintenance sweep retries jobs left Stopping) and when
every object of a job is done, failed or skipped (final status Completed). First every answered object's
worker-response file is written, then the consolidation and the output tree.

Concurrency guard: ``jobs.ended_at`` doubles as a claim. One conditional UPDATE sets it only while the
job is not final and not already claimed, so of two concurrent calls exactly one does the work; the
other returns at once. The winner consolidates and writes the output tree (``gtcore.output.writer.write_final``)
and then sets the final status in an UPDATE conditioned on its own claim. If writing fails the claim is
released (``ended_at`` back to NULL) and the error propagates, so a later call can retry; a claim left
by a crashed process is taken over after ``STALE_CLAIM_SECONDS``. Calling it again on a final job is a
no-op (idempotent). Callers must not set ``ended_at`` themselves before calling it.
"""

from __future__ import annotations

import logging

from sqlalchemy import and_, or_, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.jobs import due
from gtcore.output import worker_responses
from gtcore.output import writer as output

log = logging.getLogger(__name__)
O = dbm.objects  # noqa: E741
J = dbm.jobs

FINAL_STATUSES = ("Completed", "Stopped", "Failed")
STALE_CLAIM_SECONDS = 900.0
FINISH_GRACE_SECONDS = 600.0  # recovery: finish a job left InProgress with no open object after this long


def finish_job(ctx: Context, job_id: int, final_status: str) -> None:
    """Consolidate every answered object, write the output tree, then move the job to ``final_status``."""
    if final_status not in FINAL_STATUSES:
        raise ValueError(f"final status must be one of {', '.join(FINAL_STATUSES)}, not {final_status!r}")
    jobs = dbm.jobs
    token = dbm.now()
    with ctx.db.write() as conn:
        claimed = conn.execute(
            update(jobs)
            .where(
                and_(
                    jobs.c.id == job_id,
                    jobs.c.status.not_in(FINAL_STATUSES),
                    or_(jobs.c.ended_at.is_(None), jobs.c.ended_at < token - STALE_CLAIM_SECONDS),
                )
            )
            .values(ended_at=token, updated_at=token)
        ).rowcount
    if claimed != 1:
        return
    try:
        worker_responses.flush_worker_responses(ctx, job_id=job_id)  # every answered object has its file first
        output.write_final(ctx, job_id, final_status)
    except BaseException:
        with ctx.db.write() as conn:
            conn.execute(update(jobs).where(and_(jobs.c.id == job_id, jobs.c.ended_at == token)).values(ended_at=None))
        raise
    t = dbm.now()
    with ctx.db.write() as conn:
        conn.execute(
            update(jobs)
            .where(and_(jobs.c.id == job_id, jobs.c.ended_at == token))
            .values(status=final_status, updated_at=t, ended_at=t)
        )
    ctx.memory.forget_job(job_id)
    worker_responses.flush_worker_responses(ctx, job_id=job_id)  # a Failed job's answered open objects too


def job_status(ctx: Context, job_id: int) -> str | None:
    with ctx.db.read() as conn:
        return conn.execute(select(J.c.status).where(J.c.id == job_id)).scalar()


def retry_stopping_jobs(ctx: Context) -> int:
    """Record the finish of every job left Stopping (the store failed during its stop); returns how many."""
    with ctx.db.read() as conn:
        ids = list(conn.execute(select(J.c.id).where(J.c.status == "Stopping")).scalars())
    for jid in ids:
        with ctx.db.write() as conn:
            due.job_ended(conn, jid, "Stopped")
    return len(ids)


def recover_stuck_jobs(ctx: Context, job_id: int | None, now: float) -> None:
    open_objects = select(O.c.idx).where(O.c.job_id == J.c.id, O.c.status == "open").exists()
    q = select(J.c.id).where(
        J.c.status == "InProgress", J.c.updated_at < now - FINISH_GRACE_SECONDS, J.c.total_objects > 0, ~open_objects
    )
    if job_id is not None:
        q = q.where(J.c.id == job_id)
    with ctx.db.read() as conn:
        stuck = [r.id for r in conn.execute(q)]
    for jid in stuck:
        log.warning("job %s has no open object left but is still InProgress: finishing it is due", jid)
        with ctx.db.write() as conn:
            due.job_ended(conn, jid, "Completed")
