"""Progress of one labeling job for the job status page: counters, per-worker table, submits over time.

Reads only (three queries: objects grouped by status, assignments grouped by worker and status, and the
submitted answers' times). Admins and auditors may read it (``gtcore.access.require_reader``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select

from gtcore import db as dbm
from gtcore.access import Actor, require_reader
from gtcore.context import Context
from gtcore.errors import NotFound

OBJECT_STATUSES = ("open", "done", "failed", "skipped")


@dataclass(frozen=True)
class WorkerProgress:
    user_id: int
    email: str
    worker_id: str  # public id, as in worker-response files
    submitted: int
    declined: int
    median_seconds: float | None  # median active time per submitted task (None before the first submit)


@dataclass(frozen=True)
class JobProgress:
    job_id: int
    name: str
    status: str
    workers_per_object: int
    objects: dict[str, int]  # open / done / failed / skipped -> count
    label_counters: dict[str, int]  # DescribeLabelingJob LabelCounters shape
    answers_submitted: int
    answers_needed: int  # answers the job asks for in total (objects not skipped x workers per object)
    in_progress: int  # live leases (leased or stopped-and-resumable assignments)
    workers: list[WorkerProgress] = field(default_factory=list)
    submit_times: list[float] = field(default_factory=list)  # epoch seconds of every submitted answer, sorted

    @property
    def total_objects(self) -> int:
        return sum(self.objects.values())

    @property
    def fraction_done(self) -> float:
        """Share of objects that need no more work (done, failed or skipped), 0..1."""
        total = self.total_objects
        return (total - self.objects["open"]) / total if total else 0.0


def job_progress(ctx: Context, actor: Actor, job_id: int) -> JobProgress:
    """Counters, the per-worker table and the submit times of job ``job_id``."""
    require_reader(actor, action="see job progress")
    o, a, u, j = dbm.objects, dbm.assignments, dbm.users, dbm.jobs
    with ctx.db.read() as conn:
        job = conn.execute(select(j.c.id, j.c.name, j.c.status, j.c.workers_per_object).where(j.c.id == job_id)).first()
        if job is None:
            raise NotFound(f"labeling job {job_id} does not exist")
        objects = dict.fromkeys(OBJECT_STATUSES, 0)
        for status, n in conn.execute(
            select(o.c.status, func.count()).where(o.c.job_id == job_id).group_by(o.c.status)
        ):
            objects[status] = int(n)
        per: dict[int, dict[str, int]] = {}
        for wid, status, n in conn.execute(
            select(a.c.worker_id, a.c.status, func.count())
            .where(a.c.job_id == job_id)
            .group_by(a.c.worker_id, a.c.status)
        ):
            per.setdefault(int(wid), {})[status] = int(n)
        people = {
            r.id: r
            for r in conn.execute(
                select(u.c.id, u.c.email, u.c.worker_id).where(u.c.id.in_(list(per)) if per else u.c.id < 0)
            )
        }
        in_progress = conn.execute(
            select(func.count()).where(
                and_(a.c.job_id == job_id, a.c.status.in_(("leased", "stopped")), a.c.lease_expires_at > dbm.now())
            )
        ).scalar_one()
        spent: dict[int, list[float]] = {}
        times: list[float] = []
        for wid, t_spent, accepted, submitted in conn.execute(
            select(a.c.worker_id, a.c.time_spent, a.c.accepted_at, a.c.submitted_at).where(
                and_(a.c.job_id == job_id, a.c.status == "submitted")
            )
        ):
            if submitted is not None:
                times.append(float(submitted))
            secs = t_spent if t_spent is not None else (submitted - accepted if submitted is not None else None)
            if secs is not None:
                spent.setdefault(int(wid), []).append(float(secs))
    workers = [
        WorkerProgress(
            user_id=uid,
            email=people[uid].email if uid in people else f"user {uid}",
            worker_id=people[uid].worker_id if uid in people else "",
            submitted=counts.get("submitted", 0),
            declined=counts.get("declined", 0),
            median_seconds=statistics.median(spent[uid]) if spent.get(uid) else None,
        )
        for uid, counts in per.items()
    ]
    workers.sort(key=lambda w: (-w.submitted, w.email.lower()))
    submitted_total = sum(w.submitted for w in workers)
    return JobProgress(
        job_id=job.id,
        name=job.name,
        status=job.status,
        workers_per_object=job.workers_per_object,
        objects=objects,
        label_counters={
            "TotalLabeled": objects["done"],
            "HumanLabeled": objects["done"],
            "MachineLabeled": 0,
            "FailedNonRetryableError": objects["failed"],
            "Unlabeled": objects["open"],
        },
        answers_submitted=submitted_total,
        answers_needed=(sum(objects.values()) - objects["skipped"]) * job.workers_per_object,
        in_progress=int(in_progress),
        workers=workers,
        submit_times=sorted(times),
    )
