"""What becomes due when the queue or a job action changes state: recorded in the same transaction with
``gtcore.core.work.enqueue`` and done by the background workers (``gtcore.work.handlers``).

- an object left ``open`` (its answers are complete, or it failed): its worker-response file
  (``responses.write``, one item per job: the handler writes every due file), the job's StoppingConditions
  (``jobs.stopping``), and the intermediate manifest (``jobs.intermediate``, at most every
  ``INTERMEDIATE_MIN_SECONDS`` per job: while one is pending, later objects add nothing);
- a job's work ended (no open object left, a stop, a failure): finishing it (``jobs.finish``, key = the final
  status), which writes the remaining worker-response files, consolidates and writes the output.

Work is due by the real clock (a caller's ``now=`` moves the queue's own time rules, not the work's).
"""

from __future__ import annotations

from sqlalchemy import Connection

from gtcore.core import work

RESPONSES = "responses.write"
STOPPING = "jobs.stopping"
INTERMEDIATE = "jobs.intermediate"
FINISH = "jobs.finish"
INTERMEDIATE_MIN_SECONDS = 5.0


def object_settled(conn: Connection, job_id: int) -> None:
    """Every settled object: one statement, and no lock on the job's pending items (``work.enqueue_due``)."""
    work.enqueue_due(
        conn, [(RESPONSES, job_id, 0.0), (STOPPING, job_id, 0.0), (INTERMEDIATE, job_id, INTERMEDIATE_MIN_SECONDS)]
    )


def job_ended(conn: Connection, job_id: int, final_status: str = "Completed") -> None:
    work.enqueue(conn, FINISH, job_id=job_id, key=final_status)
