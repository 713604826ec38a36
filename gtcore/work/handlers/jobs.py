"""Jobs' background work: finishing (consolidation and the final output tree), stopping conditions, intermediate
manifests. Kinds and when they become due: ``gtcore.jobs.due``."""

from __future__ import annotations

from gtcore.context import Context
from gtcore.jobs import due, finishing, settling
from gtcore.work.registry import WorkItem, handler


@handler(due.FINISH, max_attempts=8, lease_seconds=120.0)
def finish(ctx: Context, item: WorkItem) -> None:
    """Finish the job with the final status in the item's key (Completed / Stopped); idempotent."""
    assert item.job_id is not None
    status = item.key or "Completed"
    if status == "Completed" and finishing.job_status(ctx, item.job_id) == "Stopping":
        status = "Stopped"  # stopped while its last objects completed: a stop wins, as in Ground Truth
    finishing.finish_job(ctx, item.job_id, status)


@handler(due.STOPPING, max_attempts=8, lease_seconds=60.0)
def stopping(ctx: Context, item: WorkItem) -> None:
    assert item.job_id is not None
    settling.check_stopping(ctx, item.job_id)


@handler(due.INTERMEDIATE, max_attempts=8, lease_seconds=120.0)
def intermediate(ctx: Context, item: WorkItem) -> None:
    assert item.job_id is not None
    settling.write_intermediate_if_due(ctx, item.job_id)
