"""TaskAvailabilityLifetimeInSeconds, as Ground Truth defines it: objects not finished within that time from the
job's start are marked ``failed`` (counted in ``FailedNonRetryableError``), left out of consolidation, and a job
whose objects are all labeled or failed completes.

``expire_job_lifetime`` runs inside a write transaction (the claim calls it when it sees the lifetime is over, so
no task is handed out after it); ``expire_lifetimes`` is the sweep the background workers run. Live leases on
those objects end (a later submit is refused with the reason); answers already given stay in the database and
in the objects' worker-response files, but the failed objects get no label.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.memory import ProcessMemory
from gtcore.queue.leases import LIVE, one_of, retrying, settled

A = dbm.assignments
O = dbm.objects  # noqa: E741
J = dbm.jobs

END_LEASES = (
    update(A)
    .where(A.c.job_id == bindparam("b_job"), one_of(A.c.status, LIVE))
    .values(status="expired", updated_at=bindparam("now"))
)
FAIL_OPEN = (
    update(O)
    .where(O.c.job_id == bindparam("b_job"), O.c.status == "open")
    .values(status="failed", taken=O.c.answers, updated_at=bindparam("now"))
)


def lifetime_over(job: Any, now: float) -> bool:
    return bool(now > float(job.created_at) + float(job.availability_lifetime))


def expire_job_lifetime(conn: Connection, memory: ProcessMemory, job_id: int, now: float) -> int:
    """Fail the job's open objects and end its leases; return how many objects failed (0: nothing changed)."""
    conn.execute(END_LEASES, {"b_job": job_id, "now": now})
    failed = int(conn.execute(FAIL_OPEN, {"b_job": job_id, "now": now}).rowcount or 0)
    if failed:
        settled(conn, memory, job_id, now)  # responses of answered objects, and the job's finish, become due
    return failed


def expire_lifetimes(ctx: Context, *, now: float | None = None) -> int:
    """Apply TaskAvailabilityLifetimeInSeconds to every running job; return the number of objects failed."""
    t = dbm.now() if now is None else now
    q = select(J.c.id).where(J.c.status == "InProgress", J.c.created_at + J.c.availability_lifetime < t)
    with ctx.db.read() as conn:
        job_ids = list(conn.execute(q).scalars())
    total = 0
    for jid in job_ids:

        def tx(jid: int = jid) -> int:
            with ctx.db.write() as conn:
                return expire_job_lifetime(conn, ctx.memory, jid, t)

        total += retrying(tx)
    return total
