"""What becomes due when the queue or a job action changes state: recorded in the same transaction with
``gtcore.core.workqueue.enqueue`` and done by the background workers (``gtcore.work.handlers``).

- an object left ``open`` (its answers are complete, or it failed): its worker-response file
  (``responses.write``, one item per job: the handler writes every due file), the job's StoppingConditions
  (``jobs.stopping``), and the intermediate manifest (``jobs.intermediate``, at most every
  ``INTERMEDIATE_MIN_SECONDS`` per job: while one is pending, later objects add nothing);
- a job's work ended (no open object left, a stop, a failure): finishing it (``jobs.finish``, key = the final
  status), which writes the remaining worker-response files, consolidates and writes the output.

Work is due by the real clock (a caller's ``now=`` moves the queue's own time rules, not the work's).
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from gtcore.core import db as dbm
from gtcore.core import workqueue
from gtcore.core.memory import JobFlags, ProcessMemory
from gtcore.jobs.describe import spec_of

RESPONSES = "responses.write"
STOPPING = "jobs.stopping"
INTERMEDIATE = "jobs.intermediate"
FINISH = "jobs.finish"
AUTOLABEL_STEP = "autolabel.step"
INTERMEDIATE_MIN_SECONDS = 5.0


def object_settled(
    conn: Connection, memory: ProcessMemory, job_id: int, *, then: str | None = None, then_params: dict | None = None
) -> list:
    """Every settled object: one statement, and no lock on the job's pending items (``workqueue.enqueue_due``).
    A job with automated data labeling also gets its loop's ``autolabel.step`` (it looks whether a batch ran dry).
    ``then``: a query sent in the same statement on PostgreSQL (``workqueue.enqueue_due``); its rows are returned."""
    items = [(RESPONSES, job_id, 0.0), (STOPPING, job_id, 0.0), (INTERMEDIATE, job_id, INTERMEDIATE_MIN_SECONDS)]
    flags = job_flags(conn, memory, job_id)
    if flags is not None and flags.autolabel:
        items.append((AUTOLABEL_STEP, job_id, 0.0))
    return workqueue.enqueue_due(conn, items, then=then, then_params=then_params)


def job_flags(conn: Connection, memory: ProcessMemory, job_id: int) -> JobFlags | None:
    """The job's object count and whether it has StoppingConditions / automated data labeling (all fixed at
    creation: read once per job and Context, kept in ``memory``; None for a job that does not exist)."""
    flags = memory.job_flags(job_id)
    if flags is None:
        row = conn.execute(
            select(dbm.jobs.c.total_objects, dbm.jobs.c.spec_json).where(dbm.jobs.c.id == job_id)
        ).first()
        if row is None:
            return None
        spec = spec_of(row)
        flags = JobFlags(int(row.total_objects), bool(spec.get("StoppingConditions")),
                         bool(spec.get("LabelingJobAlgorithmsConfig")))  # fmt: skip
        memory.remember_job_flags(job_id, flags)
    return flags


def job_ended(conn: Connection, job_id: int, final_status: str = "Completed") -> None:
    workqueue.enqueue(conn, FINISH, job_id=job_id, key=final_status)
