"""A task handed out: the ``Task`` a worker's screen shows, built from its assignment, object and job facts (the
known answer of a gold object never reaches it)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, and_, bindparam, select

from gtcore.core import db as dbm
from gtcore.core.errors import NotFound
from gtcore.queue.facts import FixedJobFacts
from gtcore.queue.previous import previous_of

A = dbm.assignments
O = dbm.objects  # noqa: E741


@dataclass(frozen=True)
class Task:
    assignment_id: int
    job_id: int
    job_name: str
    object_idx: int  # datasetObjectId
    source_ref: str | None
    line: dict  # the input manifest line
    task_type: str
    labels: list[str]
    lease_expires_at: float
    accepted_at: float
    draft: dict | None  # saved work in progress (save_draft), to re-open the canvas with
    status: str  # leased | stopped
    instructions: dict
    previous: dict | None  # AdjustmentBoundingBox: {"attribute","boundingBoxes","inputImageProperties"}
    object_count: int = 0  # objects in the job, for "object 3 of 12"


TASK = (
    select(A, O.c.line_json, O.c.source_ref)
    .select_from(A.join(O, and_(O.c.job_id == A.c.job_id, O.c.idx == A.c.object_idx)))
    .where(A.c.id == bindparam("aid"))
)


def make_task(conn: Connection, job: FixedJobFacts, aid: int, idx: int, line_json: str, source_ref: str | None,
               accepted_at: float, expires: float, status: str, draft_json: str | None) -> Task:  # fmt: skip
    line = json.loads(line_json)
    if job.gold:  # a gold object is served like any other: its known answer never reaches the worker's task
        line.pop(job.gold, None)
    return Task(
        assignment_id=aid,
        job_id=job.id,
        job_name=job.name,
        object_idx=idx,
        source_ref=source_ref,
        line=line,
        task_type=job.task_type,
        labels=json.loads(job.labels_json),
        lease_expires_at=expires,
        accepted_at=accepted_at,
        draft=json.loads(draft_json) if draft_json else None,
        status=status,
        instructions=json.loads(job.instructions_json or "{}"),
        previous=previous_of(conn, job, line),
        object_count=job.total_objects,
    )


def load_task(conn: Connection, job: FixedJobFacts, assignment_id: int) -> Task:
    r = conn.execute(TASK, {"aid": assignment_id}).first()
    if r is None:
        raise NotFound(f"task {assignment_id} does not exist")
    return make_task(
        conn, job, r.id, r.object_idx, r.line_json, r.source_ref, r.accepted_at, r.lease_expires_at, r.status,
        r.draft_json,
    )  # fmt: skip
