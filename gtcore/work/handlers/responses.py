"""Worker-response files (``gtcore.output.worker_responses``), split by object range so they add up:

- ``responses.write`` with an empty key (made due by every settled object, ``gtcore.jobs.due``): finds the
  job's object ranges holding due answers and makes one ``responses.write`` item per range due (key
  ``part-<n>``); it writes nothing itself;
- ``responses.write`` with key ``part-<n>``: writes the due files of objects ``n*PART_OBJECTS`` up to the next
  range. The runner never runs two items of one (kind, job, key) at once, so each file is written by exactly one
  worker whatever the number of workers, and the ranges of a job run in parallel.
"""

from __future__ import annotations

from sqlalchemy import func, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import workqueue
from gtcore.jobs import due
from gtcore.output import worker_responses
from gtcore.work.registry import WorkItem, handler

PART = "part-"


def make_parts_due(ctx: Context, job_id: int, due_at: float | None = None) -> int:
    """One item per object range of the job with due answers (a range already pending is left alone), due at
    ``due_at`` (the splitting item's own time: the parts keep its place in the queue); how many ranges."""
    parts = worker_responses.due_parts(ctx, job_id)
    if parts:
        with ctx.db.write() as conn:
            workqueue.enqueue_keys(conn, due.RESPONSES, job_id, [f"{PART}{p}" for p in parts], due_at=due_at)
    return len(parts)


def parts_running(ctx: Context, job_id: int) -> int:
    """How many object ranges of the job are being written now."""
    W = dbm.work_items
    q = select(func.count()).where(
        W.c.kind == due.RESPONSES, W.c.job_id == job_id, W.c.status == workqueue.RUNNING, W.c.key.startswith(PART),
    )  # fmt: skip
    with ctx.db.read() as conn:
        return int(conn.execute(q).scalar_one())


def failing_part(ctx: Context, job_id: int) -> str | None:
    """The last error of a range of the job whose files failed and waits for its retry (None when none did)."""
    W = dbm.work_items
    q = select(W.c.last_error).where(
        W.c.kind == due.RESPONSES, W.c.job_id == job_id, W.c.status == workqueue.PENDING,
        W.c.last_error.is_not(None), W.c.key.startswith(PART),
    )  # fmt: skip
    with ctx.db.read() as conn:
        found = conn.execute(q.limit(1)).scalar()
    if found is None:
        return None
    lines = [x for x in str(found).splitlines() if x.strip()]  # the traceback's last line: the error itself
    return (lines[-1] if lines else "an error")[:500]


@handler(due.RESPONSES, max_attempts=20, lease_seconds=60.0)
def write(ctx: Context, item: WorkItem) -> None:
    if item.job_id is None:
        return
    if not item.key.startswith(PART):
        make_parts_due(ctx, item.job_id, item.run_after or None)
        return
    worker_responses.flush_worker_responses(ctx, job_id=item.job_id, part=int(item.key[len(PART) :]))
