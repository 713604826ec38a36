"""Work done after objects settle (leave ``open``) while the job runs, by the background workers
(``gtcore.work.handlers.jobs``; the queue only records that it is due, see ``gtcore.jobs.due``):

- ``check_stopping`` stops the job when a StoppingConditions limit is reached (``actions.check_stopping_conditions``);
- ``write_intermediate_if_due`` writes the intermediate manifest (consolidating the newly completed objects):
  on small jobs the whole file every time it runs; on large ones, when the labeled count reached a new 1 % step
  since the last pass by any worker (``jobs.intermediate_step``), the parts of the newly settled ranges, and the
  whole file (assembled from the parts) only when a checkpoint step was passed (``gtcore.output.parts``: about
  12 assemblies a job, so the bytes written grow with the job, not with the job times the steps); nothing once
  every object has settled (the finish writes it then, moments later). It runs at most every
  ``due.INTERMEDIATE_MIN_SECONDS`` per job (the work item's delay), so the manifest lags the answers by about that
  plus the write itself.
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, or_, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.jobs import due

O = dbm.objects  # noqa: E741
J = dbm.jobs
NOT_OPEN = select(func.count()).where(O.c.job_id == bindparam("b_job"), O.c.status != "open")


def _facts(ctx: Context, job_id: int) -> tuple[int, bool] | None:
    """A job's object count and whether it has StoppingConditions (``due.job_flags``: fixed at creation, kept in
    ``ctx.memory``)."""
    flags = ctx.memory.job_flags(job_id)
    if flags is None:
        with ctx.db.read() as conn:
            flags = due.job_flags(conn, ctx.memory, job_id)
    return None if flags is None else (flags.total_objects, flags.stopping)


def check_stopping(ctx: Context, job_id: int) -> bool:
    """Stop the job if one of its StoppingConditions is met; True when this call stopped it."""
    from gtcore.jobs import actions as jobactions

    facts = _facts(ctx, job_id)
    if facts is None or not facts[1]:
        return False
    return jobactions.check_stopping_conditions(ctx, Actor.system_actor(), job_id)


def write_intermediate_if_due(ctx: Context, job_id: int) -> str | None:
    """Rewrite the intermediate manifest when due (module docstring); its URI, or None when not written."""
    from gtcore.output import parts
    from gtcore.output import writer as output

    facts = _facts(ctx, job_id)
    if facts is None:
        return None
    total = facts[0]
    step = None
    written = None
    if total > output.INTERMEDIATE_SMALL_JOB:
        with ctx.db.read() as conn:
            settled = int(conn.execute(NOT_OPEN, {"b_job": job_id}).scalar_one())
            written = conn.execute(select(J.c.intermediate_step).where(J.c.id == job_id)).scalar()
        if settled >= total:  # every object settled: the job's finish writes this manifest moments later
            return None
        step = settled * 100 // total
        if written is not None and written >= step:
            return None  # this step is written already (by any worker: the mark is in the job row)
    whole = step is None or parts.checkpoint_due(written, step)
    uri = output.write_intermediate(ctx, job_id, whole=whole)  # None: the job is finishing or final
    if uri is not None and step is not None:
        with ctx.db.write() as conn:  # only ever forward (one intermediate item of a job runs at a time anyway)
            conn.execute(
                update(J).where(J.c.id == job_id, or_(J.c.intermediate_step.is_(None), J.c.intermediate_step < step))
                .values(intermediate_step=step)
            )  # fmt: skip
    return uri
