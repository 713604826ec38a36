"""Jobs' background work: finishing (consolidation and the final output tree), stopping conditions, intermediate
manifests. Kinds and when they become due: ``gtcore.jobs.due``."""

from __future__ import annotations

from gtcore.context import Context
from gtcore.core import workqueue
from gtcore.jobs import due, finishing, settling
from gtcore.output import worker_responses
from gtcore.work.handlers import responses
from gtcore.work.registry import WorkItem, handler

WAIT_SECONDS = 0.5  # a finish waiting for its job's worker-response files looks again after this long


@handler(due.FINISH, max_attempts=8, lease_seconds=120.0)
def finish(ctx: Context, item: WorkItem) -> None:
    """Finish the job with the final status in the item's key (Completed / Stopped); idempotent."""
    assert item.job_id is not None
    status = item.key or "Completed"
    if status == "Completed" and finishing.job_status(ctx, item.job_id) == "Stopping":
        status = "Stopped"  # stopped while its last objects completed: a stop wins, as in Ground Truth
    if worker_responses.due_parts(ctx, item.job_id):
        # every answered object has its file before the output (as in Ground Truth), written by the responses
        # items (each file by one worker, the ranges in parallel); this finish comes again after them
        failing = responses.failing_part(ctx, item.job_id)
        if failing is not None:  # the store refuses them: retried with backoff, the reason shown on this item
            raise RuntimeError(f"worker-response files of job {item.job_id} are not written yet: {failing}")
        # parts pending only: they are due before this finish's next run (older run_after); parts running in other
        # workers: look again a little later instead of spinning
        waiting = responses.parts_running(ctx, item.job_id)
        responses.make_parts_due(ctx, item.job_id, item.run_after or None)
        with ctx.db.write() as conn:
            delay = WAIT_SECONDS if waiting else 0.0
            workqueue.enqueue(conn, due.FINISH, job_id=item.job_id, key=item.key, delay_seconds=delay)
        return
    finishing.finish_job(ctx, item.job_id, status)


@handler(due.STOPPING, max_attempts=8, lease_seconds=60.0)
def stopping(ctx: Context, item: WorkItem) -> None:
    assert item.job_id is not None
    settling.check_stopping(ctx, item.job_id)


@handler(due.INTERMEDIATE, max_attempts=8, lease_seconds=120.0)
def intermediate(ctx: Context, item: WorkItem) -> None:
    assert item.job_id is not None
    settling.write_intermediate_if_due(ctx, item.job_id)
