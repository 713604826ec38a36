"""The earlier labels an adjustment or verification task shows: read from the object's line, by the attribute
the job was chained from (its own module so that claims and submits can both use it without importing each other).

Box types get ``{"attribute", "boundingBoxes", "inputImageProperties"}``; semantic-segmentation types get
``{"attribute", "maskUri", "metadata"}`` (the PNG's URI and the attribute's metadata with its colour map).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, bindparam, select

from gtcore.core import db as dbm
from gtcore.queue.answer_checks import previous_boxes

O = dbm.objects  # noqa: E741
J = dbm.jobs
ADJUST = "AdjustmentBoundingBox"
_BOX_SOURCES = {ADJUST, "VerificationBoundingBox"}
_MASK_SOURCES = {"AdjustmentSemanticSegmentation", "VerificationSemanticSegmentation"}
SOURCED = _BOX_SOURCES | _MASK_SOURCES
SEL_JOB = select(J).where(J.c.id == bindparam("b_job"))


def previous_for(conn: Connection, job_id: int, object_idx: int) -> dict | None:
    """The boxes of the attribute an adjustment job was chained from, read from the object's line."""
    job = conn.execute(SEL_JOB, {"b_job": job_id}).first()
    if job is None or job.task_type not in SOURCED:
        return None
    line_json = conn.execute(select(O.c.line_json).where(O.c.job_id == job_id, O.c.idx == object_idx)).scalar()
    return previous_of(conn, job, json.loads(line_json or "{}"))


def previous_of(conn: Connection, job: Any, line: dict) -> dict | None:
    if job.task_type not in SOURCED:
        return None
    attr = None
    try:
        chained = json.loads(job.spec_json or "{}").get("ChainedFrom") or {}
        attr = chained.get("LabelAttributeName") if isinstance(chained, dict) else None
    except (ValueError, AttributeError):
        attr = None
    if not attr and job.parent_job_id is not None:
        attr = conn.execute(select(J.c.label_attribute).where(J.c.id == job.parent_job_id)).scalar()
    if job.task_type in _MASK_SOURCES:
        return previous_mask(line, attr)
    labels = json.loads(job.labels_json) if job.task_type == ADJUST else []
    return previous_boxes(line, attr, labels, exclude=job.label_attribute)


def previous_mask(line: dict, attribute: str | None) -> dict | None:
    """The mask URI and metadata of an earlier semantic-segmentation attribute of a manifest line."""
    uri = line.get(attribute) if attribute else None
    meta = line.get(f"{attribute}-metadata")
    if not isinstance(uri, str) or not isinstance(meta, dict):
        return None
    return {"attribute": attribute, "maskUri": uri, "metadata": meta}
