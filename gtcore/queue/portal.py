"""The worker portal's list: the InProgress jobs of a worker's teams and what he can do in each."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import func, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import WORKER, Actor, require_role
from gtcore.queue.leases import LIVE, candidates, expire_leases

A = dbm.assignments
J = dbm.jobs


@dataclass(frozen=True)
class WorkerJobSummary:
    job_id: int
    name: str
    title: str
    description: str
    task_type: str
    available: int  # tasks this worker could claim now
    my_submitted: int
    my_in_progress: int  # his live leases (working or stopped)


def worker_jobs(ctx: Context, actor: Actor) -> list[WorkerJobSummary]:
    """The InProgress jobs of the actor's teams with what he can do in each (the worker portal's list)."""
    require_role(actor, WORKER, action="see the worker portal")
    t = dbm.now()
    q = select(J).where(J.c.status == "InProgress").order_by(J.c.created_at.desc(), J.c.id.desc())
    if not actor.system:
        q = q.where(J.c.team_id.in_(sorted(actor.team_ids)))
    with ctx.db.read() as conn:
        jobs = conn.execute(q).all()
    for job in jobs:
        expire_leases(ctx, job.id, now=t)  # so "available" counts tasks whose lease ran out
    out: list[WorkerJobSummary] = []
    with ctx.db.read() as conn:
        for job in jobs:
            spec = _spec(job.spec_json)
            mine: dict[str, int] = dict(
                conn.execute(
                    select(A.c.status, func.count())
                    .where(A.c.job_id == job.id, A.c.worker_id == actor.user_id)
                    .where((A.c.status == "submitted") | (A.c.status.in_(LIVE) & (A.c.lease_expires_at >= t)))
                    .group_by(A.c.status)
                ).all()
            )
            available = 0
            if actor.user_id is not None:
                sub = candidates(job.id, int(actor.user_id), job.max_concurrent).subquery()
                available = int(conn.execute(select(func.count()).select_from(sub)).scalar() or 0)
            out.append(
                WorkerJobSummary(
                    job_id=job.id,
                    name=job.name,
                    title=str(spec.get("TaskTitle") or job.name),
                    description=str(spec.get("TaskDescription") or ""),
                    task_type=job.task_type,
                    available=available,
                    my_submitted=int(mine.get("submitted", 0)),
                    my_in_progress=int(mine.get("leased", 0)) + int(mine.get("stopped", 0)),
                )
            )
    return out


def _spec(spec_json: str) -> dict:
    try:
        spec = json.loads(spec_json or "{}")
    except ValueError:
        return {}
    if not isinstance(spec, dict):
        return {}
    htc = spec.get("HumanTaskConfig")
    return htc if isinstance(htc, dict) else spec
