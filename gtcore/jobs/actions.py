"""Changing labeling jobs after creation: stop, fail, clone, chain, stopping conditions. Never delete.

State machine (groundtruth-reference.md 4.3, 4.4, 8)::

    Initializing -> InProgress -> Completed            (queue: every object done/failed/skipped)
                              \\-> Stopping -> Stopped   (stop_labeling_job, or a stopping condition met)
                              \\-> Failed               (fail_labeling_job, fail_overdue_jobs after 30 days)

Completed, Stopped and Failed are final: a stopped job never restarts. To carry on, chain a new job
from it: its input is the old job's output manifest (for a Stopped or Failed job, whose output manifest
holds only the answered objects, its full-length intermediate manifest: ``output.chain_input_uri``).
With the same label attribute only the lines without that attribute are labeled; with a new attribute
every line is labeled again. Chaining a bounding-box job may create an AdjustmentBoundingBox job (new
attribute required; annotators see the previous boxes). Cloning copies the setup (same input manifest)
under a new name.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sqlalchemy import select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import tasktypes
from gtcore.core.access import Actor, can_read_job, require_admin
from gtcore.core.errors import Conflict, NotFound, PermissionDenied, Problem, SpecError
from gtcore.jobs import due
from gtcore.jobs import finishing as lifecycle
from gtcore.jobs.create import create_job
from gtcore.jobs.describe import JobSummary, counts_by_status, find_job_row, job_summary, spec_of
from gtcore.output.writer import chain_input_uri

FINAL = ("Completed", "Failed", "Stopped")
RUNNING = ("Initializing", "InProgress")
CHAINABLE = ("Completed", "Stopped", "Failed")
MAX_JOB_AGE_SECONDS = 30 * 86_400  # "Labeling jobs fail after 30 days"
J = dbm.jobs


def _admin_row(ctx: Context, actor: Actor, name: str, action: str) -> Any:
    require_admin(actor, action=action)
    with ctx.db.read() as conn:
        return find_job_row(conn, name)


def stop_labeling_job(ctx: Context, actor: Actor, name: str) -> JobSummary:
    """StopLabelingJob: the job is Stopping at once; the background workers write the answered objects'
    worker-response files and the partial output, then it is Stopped (``jobs.finish`` work item).

    Stopping a job that is already Stopping records the finish again (the sweep also retries it).
    """
    require_admin(actor, action="stop labeling jobs")
    with ctx.db.write() as conn:
        row = find_job_row(conn, name)
        moved = conn.execute(
            update(J)
            .where(J.c.id == row.id, J.c.status.in_(RUNNING + ("Stopping",)))
            .values(status="Stopping", updated_at=dbm.now())
        ).rowcount
        if moved == 1:
            due.job_ended(conn, row.id, "Stopped")
    ctx.memory.forget_job(row.id)  # its status changed (or is not what this process may have thought)
    if moved != 1:
        raise Conflict(
            f"labeling job {row.name} is {row.status}: a finished job cannot be stopped or restarted "
            "(chain a new job from it to carry on)"
        )
    return job_summary(ctx, actor, job_id=row.id)


def fail_labeling_job(ctx: Context, actor: Actor, name: str, reason: str) -> JobSummary:
    """Move a running job to Failed with ``reason`` (FailureReason, at most 1024 characters)."""
    require_admin(actor, action="fail labeling jobs")
    reason = (reason or "").strip() or "failed by the operator"
    with ctx.db.write() as conn:
        row = find_job_row(conn, name)
        moved = conn.execute(
            update(J)
            .where(J.c.id == row.id, J.c.status.in_(RUNNING + ("Stopping",)))
            .values(failure_reason=reason[:1024], updated_at=dbm.now())
        ).rowcount
    if moved != 1:
        raise Conflict(f"labeling job {row.name} is already {row.status}")
    lifecycle.finish_job(ctx, row.id, "Failed")
    return job_summary(ctx, actor, job_id=row.id)


def fail_overdue_jobs(
    ctx: Context, actor: Actor, *, now: float | None = None, max_age_seconds: float = MAX_JOB_AGE_SECONDS
) -> list[str]:
    """Fail every running job older than 30 days, as Ground Truth does; returns their names."""
    require_admin(actor, action="fail overdue labeling jobs")
    limit = (dbm.now() if now is None else now) - max_age_seconds
    with ctx.db.read() as conn:
        names = list(
            conn.execute(
                select(J.c.name).where(J.c.status.in_(RUNNING), J.c.created_at < limit).order_by(J.c.id)
            ).scalars()
        )
    days = max_age_seconds / 86_400
    for name in names:
        fail_labeling_job(ctx, actor, name, f"the labeling job did not finish within {days:g} days")
    return names


def check_stopping_conditions(ctx: Context, actor: Actor, job_id: int) -> bool:
    """Stop the job when a StoppingConditions limit is reached; True if this call stopped it.

    Any actor who may see the job may trigger it (the queue calls it after a submit).
    """
    with ctx.db.read() as conn:
        row = conn.execute(select(J).where(J.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"labeling job {job_id} does not exist")
        if not can_read_job(actor, row.team_id):
            raise PermissionDenied(f"{actor.email} cannot act on labeling job {row.name}")
        conditions = spec_of(row).get("StoppingConditions") or {}
        if row.status != "InProgress" or not conditions:
            return False
        counts = counts_by_status(conn, [row.id])[row.id]
    human = counts.get("done", 0)
    labeled = human + counts.get("machine", 0)  # automated data labeling's machine labels count as labeled
    most = conditions.get("MaxHumanLabeledObjectCount")
    pct = conditions.get("MaxPercentageOfInputDatasetLabeled")
    met = (isinstance(most, int) and human >= most) or (
        isinstance(pct, int) and row.total_objects > 0 and labeled * 100 >= pct * row.total_objects
    )
    if not met:
        return False
    with ctx.db.write() as conn:
        moved = conn.execute(
            update(J)
            .where(J.c.id == row.id, J.c.status == "InProgress")
            .values(status="Stopping", updated_at=dbm.now())
        ).rowcount
        if moved == 1:
            due.job_ended(conn, row.id, "Stopped")
    if moved == 1:
        ctx.memory.forget_job(row.id)
    return moved == 1


def deep_merge(base: dict[str, Any], overrides: dict[str, Any] | None) -> dict[str, Any]:
    """``base`` with ``overrides`` applied: nested objects merge, other values replace, None removes."""
    out = copy.deepcopy(base)
    for key, value in (overrides or {}).items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def clone_labeling_job(
    ctx: Context, actor: Actor, source: str, new_name: str, *, overrides: dict[str, Any] | None = None
) -> JobSummary:
    """A new job with the setup and input manifest of ``source`` (any status), optionally changed by ``overrides``."""
    row = _admin_row(ctx, actor, source, "clone labeling jobs")
    request = deep_merge(spec_of(row), overrides)
    request["LabelingJobName"] = new_name
    job_id = create_job(ctx, actor, request, origin="clone", parent_job_id=row.id)
    return job_summary(ctx, actor, job_id=job_id)


def _retype(request: dict[str, Any], task_type: tasktypes.TaskType) -> None:
    """Point the task-type fields of a copied request at ``task_type`` (keeping region/account of the ARNs)."""
    human = request.setdefault("HumanTaskConfig", {})
    changed = False
    for holder, key, prefix in (
        (human, "PreHumanTaskLambdaArn", "PRE-"),
        (human.get("AnnotationConsolidationConfig") or {}, "AnnotationConsolidationLambdaArn", "ACS-"),
    ):
        arn = holder.get(key)
        if isinstance(arn, str) and f":function:{prefix}" in arn:
            holder[key] = arn.rsplit(":function:", 1)[0] + f":function:{prefix}{task_type.lambda_suffix}"
            changed = True
    if "TaskType" in human or not changed:
        human["TaskType"] = task_type.name  # also wins over a UiConfig template naming the old type


def _retext(request: dict[str, Any], old: tasktypes.TaskType, new: tasktypes.TaskType, given: dict[str, Any]) -> None:
    """The texts of a job chained to another task type follow that type unless ``given`` (the overrides) sets them.

    A title, description or short instruction that was the old type's default becomes the new type's; a
    verification job asks to judge labels, not to draw them, so it starts from its own defaults whatever the
    earlier job said, without the earlier good and bad examples (they show drawings).
    """
    human = request.setdefault("HumanTaskConfig", {})
    told = given.get("HumanTaskConfig") or {}
    old_title, old_text, _ = tasktypes.default_texts(old.name)
    title, text, _ = tasktypes.default_texts(new.name)
    if "TaskTitle" not in told and (new.verifies or human.get("TaskTitle") in (None, "", old_title)):
        human["TaskTitle"] = title
    if "TaskDescription" not in told and (new.verifies or human.get("TaskDescription") in (None, "", old_text)):
        human["TaskDescription"] = text
    if "Instructions" in told:
        return
    ins = human.get("Instructions")
    if new.verifies or not isinstance(ins, dict):
        human["Instructions"] = {"Short": human.get("TaskDescription") or text, "Full": "", "Examples": []}
    elif ins.get("Short") in (None, "", old_text):
        ins["Short"] = human.get("TaskDescription") or text


def chain_labeling_job(
    ctx: Context,
    actor: Actor,
    source: str,
    new_name: str,
    *,
    label_attribute_name: str | None = None,
    task_type: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> JobSummary:
    """A new job whose input is ``source``'s output manifest (source Completed, Stopped or Failed).

    From a Stopped or Failed job the input is its intermediate manifest (every input line, the answered
    ones labelled), so a same-attribute chain offers exactly the objects the stopped job left unlabeled.

    ``label_attribute_name`` defaults as in the console: the new job's name when chaining from a Completed
    job (or for an adjustment), the old attribute from a Stopped or Failed one. ``task_type`` defaults to
    the source's; ``"AdjustmentBoundingBox"`` is allowed from a bounding-box (or adjustment) job. Another task
    type brings its own title and instructions unless ``overrides`` sets them (``_retext``).
    """
    row = _admin_row(ctx, actor, source, "chain labeling jobs")
    if row.status not in CHAINABLE:
        raise Conflict(f"labeling job {row.name} is {row.status}; chain from a Completed, Stopped or Failed job")
    old_type = tasktypes.TASK_TYPES.get(row.task_type)
    new_type = old_type if task_type is None else tasktypes.TASK_TYPES.get(task_type)
    allowed = set(tasktypes.chain_targets(row.task_type))
    if new_type is None or old_type is None or new_type.name not in allowed:
        kinds = ", ".join(sorted(allowed))
        raise SpecError(
            [
                Problem(
                    f"a job chained from {row.name} ({row.task_type}) can be: {kinds}", field="HumanTaskConfig.TaskType"
                )
            ],
            summary="the labeling job was not created",
        )
    manifest = chain_input_uri(row)
    if not ctx.storage.exists(manifest):
        raise Conflict(f"labeling job {row.name} has no output manifest at {manifest} to chain from")
    if label_attribute_name is None:
        fresh = row.status == "Completed" or new_type.is_adjustment or new_type.verifies
        label_attribute_name = new_name if fresh else row.label_attribute
        if fresh and tasktypes.needs_ref_suffix(new_type):
            label_attribute_name += "-ref"
    request = deep_merge(spec_of(row), overrides)
    request.update(
        LabelingJobName=new_name,
        LabelAttributeName=label_attribute_name,
        ChainedFrom={"LabelingJobName": row.name, "LabelAttributeName": row.label_attribute},
    )
    request.setdefault("InputConfig", {}).setdefault("DataSource", {})["S3DataSource"] = {"ManifestS3Uri": manifest}
    if new_type.name != row.task_type:
        _retype(request, new_type)
        _retext(request, old_type, new_type, overrides or {})
    required = json.loads(row.labels_json) if new_type.is_adjustment else None
    job_id = create_job(ctx, actor, request, origin="chain", parent_job_id=row.id, required_labels=required)
    return job_summary(ctx, actor, job_id=job_id)
