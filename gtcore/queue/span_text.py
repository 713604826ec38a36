"""The text an NER answer's spans are checked against at submit (``gtcore.queue.actions.submit``).

Read before the submit's transaction (a ``source-ref`` file is read through the store, never inside a database
transaction); None for every other task type, which costs nothing when the job's facts are cached.
"""

from __future__ import annotations

import json

from sqlalchemy import select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import tasktypes
from gtcore.core.errors import GTError, Problem, ValidationError
from gtcore.manifests.text_sources import line_text, read_text_source


def spans_text(ctx: Context, assignment_id: int) -> str | None:
    """The text of the assignment's object when its job marks spans (NER), else None.

    Raises:
        ValidationError: the text cannot be read any more (its file changed or went away), naming it.
    """
    known = ctx.memory.assignment(assignment_id)
    job = ctx.memory.job_facts(known[0]) if known is not None else None
    if job is not None and not tasktypes.get(job.task_type).marks_spans:
        return None
    a, o, j = dbm.assignments, dbm.objects, dbm.jobs
    with ctx.db.read() as conn:
        row = conn.execute(
            select(j.c.task_type, o.c.line_json, o.c.source_ref)
            .select_from(
                a.join(j, j.c.id == a.c.job_id).join(o, (o.c.job_id == a.c.job_id) & (o.c.idx == a.c.object_idx))
            )
            .where(a.c.id == assignment_id)
        ).first()
    if row is None or row.task_type not in tasktypes.TASK_TYPES or not tasktypes.get(row.task_type).marks_spans:
        return None  # a missing assignment is reported by the submit itself
    text = line_text(json.loads(row.line_json))
    if text is not None:
        return text
    try:
        return read_text_source(ctx.storage, str(row.source_ref))
    except GTError as exc:
        raise ValidationError(
            [Problem(f"the text of this object cannot be read to check the spans: {exc}", str(row.source_ref))],
            summary="the answer was not saved",
        ) from None
