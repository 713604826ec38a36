"""Creating a labeling job from the Create job form: a new job, a clone, or a chain. One gtcore call each.

- ``form_from_job(ctx, actor, name, origin)`` fills a form from an existing job for Clone (same setup and
  input manifest, new name required) or Chain (input = the job's output manifest; the attribute defaults
  as in the console: a new one from a Completed job, the old one from a Stopped or Failed job).
- ``create_from_form(ctx, actor, form)`` writes the label category file from the form's list, builds the
  request and calls ``jobs.create_labeling_job`` / ``jobs.clone_labeling_job`` / ``jobs.chain_labeling_job``.
  Every problem (the form's own and gtcore's) is raised together in one SpecError, each naming the form
  field and the request field; nothing is created then.

Both need the admin role (PermissionDenied otherwise, before anything is read or written).
"""

from __future__ import annotations

import json
from typing import Any

from gtcore.context import Context
from gtcore.core import tasktypes
from gtcore.core.access import Actor, require_admin
from gtcore.core.errors import Conflict, Problem, SpecError, ValidationError
from gtcore.jobform.data import write_label_config
from gtcore.jobform.model import (
    ORIGINS,
    ExampleImage,
    JobForm,
    build_request,
    form_problems,
    instructions_of,
    overrides_for,
)
from gtcore.jobform.problems import LABELS_FORM_FIELD, friendly, merge_problems
from gtcore.jobs import api as jobs
from gtcore.jobs.actions import CHAINABLE
from gtcore.jobs.describe import JobSummary, check_can_read, find_job_row, spec_of
from gtcore.output.writer import chain_input_uri

_CHAIN_SETS = ("LabelingJobName", "LabelAttributeName", "ChainedFrom", "InputConfig")


def form_from_job(ctx: Context, actor: Actor, name: str, origin: str) -> JobForm:
    """A form prefilled from job ``name`` for ``origin`` "clone" or "chain" (the new name left blank)."""
    require_admin(actor, action=f"{origin} labeling jobs")
    if origin not in ("clone", "chain"):
        raise ValueError(f"origin must be clone or chain, not {origin!r}")
    with ctx.db.read() as conn:
        row = find_job_row(conn, name)
        check_can_read(actor, row)
    summary = jobs.job_summary(ctx, actor, job_id=row.id)
    if origin == "chain" and row.status not in CHAINABLE:
        raise Conflict(f"labeling job {row.name} is {row.status}; chain from a Completed, Stopped or Failed job")
    spec = spec_of(row)
    human: dict[str, Any] = spec.get("HumanTaskConfig") or {}
    instructions = human.get("Instructions") or {}
    examples = [
        ExampleImage(
            kind=str(e.get("Kind", "good")), image_uri=str(e.get("ImageUri", "")), caption=str(e.get("Caption", ""))
        )
        for e in instructions.get("Examples") or []
        if isinstance(e, dict)
    ]
    chain = origin == "chain"
    keep_attribute = chain and row.status != "Completed"  # console default: carry on with the same attribute
    return JobForm(
        name="",
        label_attribute=row.label_attribute if keep_attribute else "",
        manifest_uri=chain_input_uri(row) if chain else row.input_manifest_uri,  # full length even when Stopped
        object_count=None if chain else int(row.total_objects),
        output_path=str(row.output_path),
        task_type=str(row.task_type),
        labels=[str(x) for x in json.loads(row.labels_json or "[]")],
        title=str(human.get("TaskTitle", "")),
        description=str(human.get("TaskDescription", "")),
        full_instructions=str(instructions.get("Full", "")),
        examples=examples,
        workers_per_object=int(row.workers_per_object),
        task_time_limit=int(row.task_time_limit),
        availability_lifetime=int(row.availability_lifetime),
        max_concurrent=int(row.max_concurrent),
        team=summary.team_name or "",
        auto_labeling=bool(spec.get("LabelingJobAlgorithmsConfig")) and not chain,
        auto_model_uri=str((spec.get("LabelingJobAlgorithmsConfig") or {}).get("InitialActiveLearningModelArn") or ""),
        origin=origin,
        source_job=str(row.name),
        source_attribute=str(row.label_attribute),
        base_request=spec,
    )


def chain_task_types(source_task_type: str) -> list[str]:
    """The task types a job chained from a ``source_task_type`` job may have (adjustment and verification after
    boxes or masks)."""
    return tasktypes.chain_targets(source_task_type)


def _labels_usable(found: list[Problem]) -> bool:
    return not any(
        p.field and (p.field == LABELS_FORM_FIELD or p.field.startswith(f"{LABELS_FORM_FIELD}[")) for p in found
    )


def _call(ctx: Context, actor: Actor, form: JobForm, request: dict[str, Any]) -> JobSummary:
    if form.origin == "new":
        return jobs.create_labeling_job(ctx, actor, request)
    overrides = overrides_for(form.base_request, request)
    if form.origin == "clone":
        overrides.pop("LabelingJobName", None)
        return jobs.clone_labeling_job(ctx, actor, form.source_job, request["LabelingJobName"], overrides=overrides)
    for key in _CHAIN_SETS:
        overrides.pop(key, None)
    return jobs.chain_labeling_job(
        ctx,
        actor,
        form.source_job,
        request["LabelingJobName"],
        label_attribute_name=request["LabelAttributeName"],
        task_type=form.task_type,
        overrides=overrides,
    )


def _error(problems: list[Problem], kind: type[ValidationError] = SpecError) -> ValidationError:
    return kind(friendly(problems), summary=f"the labeling job was not created: {len(problems)} problem(s) to fix")


def create_from_form(ctx: Context, actor: Actor, form: JobForm) -> JobSummary:
    """Create the job the form describes (new, clone or chain) with one gtcore call; returns its summary.

    Raises:
        PermissionDenied: the actor is not an admin.
        SpecError / ManifestError: every problem of the form and of the request, together (nothing created).
        Conflict: the source job cannot be chained, or the name was taken meanwhile.
    """
    require_admin(actor, action="create labeling jobs")
    if form.origin not in ORIGINS:
        raise _error([Problem(f"unknown form origin {form.origin!r}; use one of {', '.join(ORIGINS)}", field="origin")])
    found = form_problems(form)
    label_uri = None
    if form.task_type in tasktypes.TASK_TYPES and _labels_usable(found):
        ner = tasktypes.get(form.task_type).marks_spans  # Ground Truth: NER's label file carries the instructions
        label_uri = write_label_config(
            ctx, actor, form.name, list(form.labels), instructions=instructions_of(form) if ner else None
        )
    request = build_request(form, label_config_uri=label_uri)
    if found:
        core: list[Problem] = []
        try:
            jobs.validate_create(ctx, request)
        except ValidationError as exc:
            core = exc.problems
        raise _error(merge_problems(found, core))
    try:
        return _call(ctx, actor, form, request)
    except ValidationError as exc:
        raise _error(exc.problems, type(exc)) from None
