"""What happens when a job's work ends: finish it (consolidate, write output, set final status).

Called by ``jobs.stop_labeling_job`` (final status Stopped) and by the queue when every object of a
job is done or failed (final status Completed). The consolidation/output issue fills in the body.
"""

from __future__ import annotations

from sqlalchemy import update

from gtcore import db as dbm
from gtcore.context import Context


def finish_job(ctx: Context, job_id: int, final_status: str) -> None:
    """Move the job to ``final_status`` (Completed or Stopped)."""
    t = dbm.now()
    with ctx.db.write() as conn:
        conn.execute(
            update(dbm.jobs)
            .where(dbm.jobs.c.id == job_id)
            .values(status=final_status, updated_at=t, ended_at=t)
        )
