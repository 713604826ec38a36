"""The previous boxes an adjustment task shows: read from the object's line, by the attribute the job was
chained from (its own module so that claims and submits can both use it without importing each other)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, bindparam, select

from gtcore.core import db as dbm
from gtcore.queue.answer_checks import previous_boxes

O = dbm.objects  # noqa: E741
J = dbm.jobs
ADJUST = "AdjustmentBoundingBox"
SEL_JOB = select(J).where(J.c.id == bindparam("b_job"))


def previous_for(conn: Connection, job_id: int, object_idx: int) -> dict | None:
    """The boxes of the attribute an adjustment job was chained from, read from the object's line."""
    job = conn.execute(SEL_JOB, {"b_job": job_id}).first()
    if job is None or job.task_type != ADJUST:
        return None
    line_json = conn.execute(select(O.c.line_json).where(O.c.job_id == job_id, O.c.idx == object_idx)).scalar()
    return previous_of(conn, job, json.loads(line_json or "{}"))


def previous_of(conn: Connection, job: Any, line: dict) -> dict | None:
    if job.task_type != ADJUST:
        return None
    attr = None
    try:
        chained = json.loads(job.spec_json or "{}").get("ChainedFrom") or {}
        attr = chained.get("LabelAttributeName") if isinstance(chained, dict) else None
    except (ValueError, AttributeError):
        attr = None
    if not attr and job.parent_job_id is not None:
        attr = conn.execute(select(J.c.label_attribute).where(J.c.id == job.parent_job_id)).scalar()
    return previous_boxes(line, attr, json.loads(job.labels_json), exclude=job.label_attribute)
