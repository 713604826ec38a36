"""After an object settles (leaves ``open``) without finishing its job: stopping conditions, the intermediate
manifest, overdue jobs. Called by the queue after its commit; nothing here fails the worker's action.

- ``object_settled`` checks the job's StoppingConditions (``actions.check_stopping_conditions``) and rewrites the
  intermediate manifest when ``output.intermediate_due`` says so, but at most once every
  ``INTERMEDIATE_MIN_SECONDS`` per job and process (a rewrite reads every object of the job and fsyncs three
  files). A due write that was skipped or failed is pending: the next settled object of that job writes it once
  the interval has passed. Errors are logged.
- for a job with automated data labeling it enqueues ``autolabel.step`` (the loop looks whether a batch ran dry;
  the work queue keeps one pending item per job however many objects settle).
- ``maybe_fail_overdue`` (called by claims) fails jobs older than 30 days, at most every
  ``OVERDUE_CHECK_SECONDS`` per database and process.
"""

from __future__ import annotations

import json
import logging
import time

from sqlalchemy import bindparam, func, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import work
from gtcore.core.access import Actor

log = logging.getLogger(__name__)

OVERDUE_CHECK_SECONDS = 300.0  # maybe_fail_overdue looks at most this often (per database, per process)
INTERMEDIATE_MIN_SECONDS = 5.0  # object_settled rewrites a job's intermediate manifest at most this often
_intermediate_last: dict[tuple[str, int], float] = {}  # (database URL, job id) -> monotonic time of the last write
_intermediate_pending: set[tuple[str, int]] = set()  # due, but skipped by the interval or failed
_overdue_checked: dict[str, float] = {}  # database URL -> time.monotonic() of the last overdue check

O = dbm.objects  # noqa: E741
J = dbm.jobs
OPEN_LEFT = select(func.count()).where(O.c.job_id == bindparam("b_job"), O.c.status == "open")
JOB_FACTS = select(J.c.total_objects, J.c.spec_json).where(J.c.id == bindparam("b_job"))
_job_facts: dict[tuple[str, int], tuple[int, bool]] = {}  # (db, job) -> (total objects, has StoppingConditions)
_autolabel: set[tuple[str, int]] = set()  # (db, job) of jobs with LabelingJobAlgorithmsConfig (fixed at creation)


def _facts(ctx: Context, job_id: int) -> tuple[int, bool] | None:
    """A job's object count and whether it has StoppingConditions (both fixed at creation: cached)."""
    key = (ctx.db.url, job_id)
    if key not in _job_facts:
        with ctx.db.read() as conn:
            row = conn.execute(JOB_FACTS, {"b_job": job_id}).first()
        if row is None:
            return None
        try:
            spec = json.loads(row.spec_json or "{}")
        except ValueError:
            spec = {}
        _job_facts[key] = (int(row.total_objects), bool(isinstance(spec, dict) and spec.get("StoppingConditions")))
        if isinstance(spec, dict) and spec.get("LabelingJobAlgorithmsConfig"):
            _autolabel.add(key)
    return _job_facts[key]


def object_settled(ctx: Context, job_id: int, actor: Actor | None = None) -> None:
    """After a commit that moved an object out of ``open`` (the job not finished by it): stop the job if a
    StoppingConditions limit is reached, else rewrite the intermediate manifest when it is due. Never raises."""
    from gtcore.jobs import actions as jobactions

    try:
        facts = _facts(ctx, job_id)
        if facts is None:
            return
        if (ctx.db.url, job_id) in _autolabel:
            with ctx.db.write() as conn:
                work.enqueue(conn, "autolabel.step", job_id=job_id)
        if facts[1] and jobactions.check_stopping_conditions(ctx, actor or Actor.system_actor(), job_id):
            return
        _write_intermediate_if_due(ctx, job_id, facts[0])
    except Exception:
        log.exception("after object settled in job %s: stopping conditions or intermediate manifest failed "
                      "(the next settled object retries)", job_id)  # fmt: skip


def _write_intermediate_if_due(ctx: Context, job_id: int, total: int) -> None:
    from gtcore.output import writer as output

    key = (ctx.db.url, job_id)
    if key not in _intermediate_pending and total > output.INTERMEDIATE_SMALL_JOB:
        with ctx.db.read() as conn:  # counting is needed for the every-1 % rule only
            left = int(conn.execute(OPEN_LEFT, {"b_job": job_id}).scalar_one())
        if not output.intermediate_due(total, total - left):
            return
    t = time.monotonic()
    last = _intermediate_last.get(key)
    if last is not None and t - last < INTERMEDIATE_MIN_SECONDS:
        _intermediate_pending.add(key)
        return
    _intermediate_last[key] = t
    _intermediate_pending.add(key)  # until the write succeeded
    if output.write_intermediate(ctx, job_id) is None:  # the job is finishing or final: nothing more to do
        _intermediate_last.pop(key, None)
    _intermediate_pending.discard(key)


def maybe_fail_overdue(ctx: Context) -> None:
    """Fail running jobs older than 30 days (``jobactions.fail_overdue_jobs``), cheaply throttled; never raises."""
    from gtcore.jobs import actions as jobactions

    key, t = ctx.db.url, time.monotonic()
    last = _overdue_checked.get(key)
    if last is not None and t - last < OVERDUE_CHECK_SECONDS:
        return
    _overdue_checked[key] = t
    try:
        jobactions.fail_overdue_jobs(ctx, Actor.system_actor())
    except Exception:
        log.exception("failing overdue labeling jobs failed; the next check retries")
