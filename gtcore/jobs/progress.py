"""Progress of one labeling job for the job status page: counters, per-worker table, submits over time.

Reads only (three queries: objects grouped by status, assignments grouped by worker and status, and the
submitted answers' times). Admins and auditors may read it (``gtcore.core.access.require_reader``).

Also for that page: where the job's output manifests are and whether they exist yet (``output_files``,
``read_output``), the cumulative count of submitted tasks over time thinned to at most a few hundred
points for a chart (``completed_over_time``), and how long the job has been running (``running_seconds``,
``duration_text``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor, require_reader
from gtcore.core.errors import NotFound
from gtcore.output import writer as output

OBJECT_STATUSES = ("open", "done", "failed", "skipped", "machine")  # machine: labeled by automated data labeling


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
    objects: dict[str, int]  # open / done / failed / skipped / machine -> count
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
        """Share of objects that need no more work (done, failed, skipped or machine-labeled), 0..1."""
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
            "TotalLabeled": objects["done"] + objects["machine"],
            "HumanLabeled": objects["done"],
            "MachineLabeled": objects["machine"],
            "FailedNonRetryableError": objects["failed"],
            "Unlabeled": objects["open"],
        },
        answers_submitted=submitted_total,
        answers_needed=(sum(objects.values()) - objects["skipped"] - objects["machine"]) * job.workers_per_object,
        in_progress=int(in_progress),
        workers=workers,
        submit_times=sorted(times),
    )


@dataclass(frozen=True)
class OutputFiles:
    """The job's output manifests: the final one (``LabelingJobOutput.OutputDatasetS3Uri``) and the
    intermediate one (every input line, rewritten while the job runs)."""

    final_uri: str
    final_ready: bool
    intermediate_uri: str
    intermediate_ready: bool

    @property
    def best_uri(self) -> str | None:
        """The final manifest once written, else the intermediate one, else None."""
        if self.final_ready:
            return self.final_uri
        return self.intermediate_uri if self.intermediate_ready else None


def _job_folder_row(ctx: Context, job_id: int) -> object:
    j = dbm.jobs
    with ctx.db.read() as conn:
        row = conn.execute(select(j.c.name, j.c.output_path).where(j.c.id == job_id)).first()
    if row is None:
        raise NotFound(f"labeling job {job_id} does not exist")
    return row


def output_files(ctx: Context, actor: Actor, job_id: int) -> OutputFiles:
    """Where job ``job_id`` writes its output manifests and which exist now (admins and auditors)."""
    require_reader(actor, action="see job outputs")
    row = _job_folder_row(ctx, job_id)
    final, inter = output.output_manifest_uri(row), output.intermediate_manifest_uri(row)
    return OutputFiles(final, ctx.storage.exists(final), inter, ctx.storage.exists(inter))


def read_output(ctx: Context, actor: Actor, job_id: int, *, final: bool = True) -> bytes:
    """The bytes of the job's final (or intermediate) output manifest, for a download (admins and auditors).

    Raises ObjectNotFound (a StorageError naming the URI) when it was not written yet.
    """
    require_reader(actor, action="download job outputs")
    row = _job_folder_row(ctx, job_id)
    uri = output.output_manifest_uri(row) if final else output.intermediate_manifest_uri(row)
    return ctx.storage.read_bytes(uri)


def completed_over_time(submit_times: list[float], max_points: int = 300) -> list[tuple[float, int]]:
    """``[(epoch seconds, tasks submitted so far), ...]`` from sorted submit times, at most ``max_points``
    points (every point lies on the exact cumulative curve; the last submit is always included)."""
    n = len(submit_times)
    if n == 0:
        return []
    step = max(1, -(-n // max(1, max_points)))  # ceil(n / max_points)
    picks = list(range(step - 1, n, step))
    if picks[-1] != n - 1:
        picks.append(n - 1)
    return [(float(submit_times[i]), i + 1) for i in picks]


def running_seconds(created_at: float, ended_at: float | None, now: float | None = None) -> float:
    """How long the job ran: until it ended, or until now while it runs."""
    end = ended_at if ended_at is not None else (dbm.now() if now is None else now)
    return max(0.0, end - created_at)


def duration_text(seconds: float) -> str:
    """``45 s``, ``12 min 5 s``, ``3 h 20 min``, ``2 d 4 h``."""
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    if s < 86_400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86_400} d {s % 86_400 // 3600} h"
