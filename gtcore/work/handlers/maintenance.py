"""Maintenance sweeps, run by the workers every ``SWEEP_SECONDS`` (``maintenance.sweep`` re-enqueues itself
first, so a failing sweep never stops the next one): expired leases back to the pool, objects past the job's
TaskAvailabilityLifetimeInSeconds failed, jobs past 30 days failed, jobs left Stopping finished again,
worker-response files the store refused earlier made due again, and done work items older than an hour deleted."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import delete

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import workqueue
from gtcore.core.access import Actor
from gtcore.jobs import api as jobs
from gtcore.jobs import due, finishing
from gtcore.output import worker_responses
from gtcore.queue import api as queue
from gtcore.queue import lifetime
from gtcore.work import runner
from gtcore.work.registry import WorkItem, handler

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30.0


def purge_done(ctx: Context, now: float | None = None) -> int:
    t = dbm.now() if now is None else now
    W = dbm.work_items
    with ctx.db.write() as conn:
        stmt = delete(W).where(W.c.status == workqueue.DONE, W.c.updated_at < t - runner.DONE_KEEP_SECONDS)
        return int(conn.execute(stmt).rowcount or 0)


def _responses_due(ctx: Context) -> int:
    """Jobs with worker-response files still due (the store refused them earlier): their files' items due again
    (written by the responses items, never here: each file by one worker); returns how many jobs."""
    jobs_due = worker_responses.jobs_with_due_responses(ctx)
    if jobs_due:
        with ctx.db.write() as conn:
            for job_id in jobs_due:
                workqueue.enqueue_keys(conn, due.RESPONSES, job_id, [""])
    return len(jobs_due)


def sweep(ctx: Context, now: float | None = None) -> dict[str, Any]:
    """One round of every sweep; returns what each did (``gtcore maintenance`` prints it)."""
    return {
        "JobsFailedOverdue": jobs.fail_overdue_jobs(ctx, Actor.system_actor(), now=now),
        "ExpiredLeases": queue.expire_leases(ctx, now=now),
        "ObjectsFailedLifetime": lifetime.expire_lifetimes(ctx, now=now),
        "StoppingJobsRetried": finishing.retry_stopping_jobs(ctx),
        "WorkerResponsesDue": _responses_due(ctx),
        "WorkItemsPurged": purge_done(ctx, now),
    }


@handler("maintenance.sweep", max_attempts=3, lease_seconds=120.0)
def _sweep(ctx: Context, item: WorkItem) -> None:
    with ctx.db.write() as conn:
        workqueue.enqueue(conn, "maintenance.sweep", delay_seconds=SWEEP_SECONDS)
    done = sweep(ctx)
    if any(done.values()):
        log.info("maintenance sweep: %s", done)
