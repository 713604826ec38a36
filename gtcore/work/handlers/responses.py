"""Worker-response files (``gtcore.output.worker_responses``): one item per job writes every due file."""

from __future__ import annotations

from gtcore.context import Context
from gtcore.jobs import due
from gtcore.output import worker_responses
from gtcore.work.registry import WorkItem, handler


@handler(due.RESPONSES, max_attempts=20, lease_seconds=60.0)
def write(ctx: Context, item: WorkItem) -> None:
    worker_responses.flush_worker_responses(ctx, job_id=item.job_id)
