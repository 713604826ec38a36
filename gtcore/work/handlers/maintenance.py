"""Maintenance sweeps, run by every worker every ``SWEEP_SECONDS`` (``maintenance.sweep`` re-enqueues itself
first, so a failing sweep never stops the next one): expired leases back to the pool, jobs past their life
failed, worker-response files the store refused retried, and done work items older than an hour deleted."""

from __future__ import annotations

import logging

from sqlalchemy import delete

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import work
from gtcore.core.access import Actor
from gtcore.jobs import api as jobs
from gtcore.queue import api as queue
from gtcore.work import runner
from gtcore.work.registry import WorkItem, handler

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30.0


def purge_done(ctx: Context, now: float | None = None) -> int:
    t = dbm.now() if now is None else now
    W = dbm.work_items
    with ctx.db.write() as conn:
        stmt = delete(W).where(W.c.status == work.DONE, W.c.updated_at < t - runner.DONE_KEEP_SECONDS)
        return int(conn.execute(stmt).rowcount or 0)


def sweep(ctx: Context, now: float | None = None) -> dict[str, int]:
    """One round of every sweep; returns what each did (``gtcore maintenance`` prints it)."""
    return {
        "ExpiredLeases": queue.expire_leases(ctx, now=now),
        "WorkerResponsesWritten": queue.flush_worker_responses(ctx),
        "JobsFailedOverdue": len(jobs.fail_overdue_jobs(ctx, Actor.system_actor(), now=now)),
        "WorkItemsPurged": purge_done(ctx, now),
    }


@handler("maintenance.sweep", max_attempts=3, lease_seconds=120.0)
def _sweep(ctx: Context, item: WorkItem) -> None:
    with ctx.db.write() as conn:
        work.enqueue(conn, "maintenance.sweep", delay_seconds=SWEEP_SECONDS)
    done = sweep(ctx)
    if any(done.values()):
        log.info("maintenance sweep: %s", done)
