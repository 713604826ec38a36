"""Labeling-job operations: CreateLabelingJob, DescribeLabelingJob, ListLabelingJobs,
ListLabelingJobsForWorkteam, StopLabelingJob: the same ``gtcore.jobs.api`` calls the CLI and the pages make.

CreateLabelingJob's body goes whole through the job spec (``gtcore.jobs.spec`` + preflight), so every field is
honoured or refused by name exactly as ``gtcore create-labeling-job`` and the Create job page do; a relative
local path is refused (there is no JSON file here to be relative to). A list without ``MaxResults`` returns
pages of ``DEFAULT_PAGE`` jobs (boto3's paginator follows ``NextToken``).
"""

from __future__ import annotations

import os
from typing import Any

from gtcore.api import arns
from gtcore.api.errors import ApiError, validation
from gtcore.api.registry import Call, operation
from gtcore.core.errors import Conflict, NotFound
from gtcore.jobs import api as jobs
from gtcore.jobs import listing
from gtcore.workforce import workteams

DEFAULT_PAGE = 100
_RELATIVE_FIELDS = (
    ("InputConfig", "DataSource", "S3DataSource", "ManifestS3Uri"),
    ("OutputConfig", "S3OutputPath"),
    ("LabelCategoryConfigS3Uri",),
    ("HumanTaskConfig", "UiConfig", "UiTemplateS3Uri"),
)


def _refuse_relative(params: dict[str, Any]) -> None:
    for path in _RELATIVE_FIELDS:
        value: Any = params
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and value and "://" not in value and not os.path.isabs(value):
            raise validation(f"{'.'.join(path)}: {value!r} is a relative path: give an s3:// URI or an absolute path")


@operation("CreateLabelingJob", model_checked=False)
def create_labeling_job(call: Call) -> dict[str, Any]:
    _refuse_relative(call.params)
    name = call.params.get("LabelingJobName")
    if isinstance(name, str) and name:
        try:  # a taken name is CreateLabelingJob's declared ResourceInUse (the spec path reports it as a problem)
            taken = jobs.job_summary(call.ctx, call.actor, name)
        except NotFound:
            pass
        else:
            raise ApiError("ResourceInUse", f"a labeling job named {taken.name!r} already exists (names ignore case)")
    summary = jobs.create_labeling_job(call.ctx, call.actor, call.params, where="CreateLabelingJob request")
    return {"LabelingJobArn": summary.arn}


@operation("DescribeLabelingJob", readers=True)
def describe_labeling_job(call: Call) -> dict[str, Any]:
    return jobs.describe_labeling_job(call.ctx, call.actor, call.params["LabelingJobName"])


def _time_filters(p: dict[str, Any]) -> dict[str, float | None]:
    def f(key: str) -> float | None:
        return None if p.get(key) is None else float(p[key])

    return {
        "creation_time_after": f("CreationTimeAfter"),
        "creation_time_before": f("CreationTimeBefore"),
    }


@operation("ListLabelingJobs", readers=True)
def list_labeling_jobs(call: Call) -> dict[str, Any]:
    p = call.params
    filters = _time_filters(p)
    for key, arg in (
        ("LastModifiedTimeAfter", "last_modified_time_after"),
        ("LastModifiedTimeBefore", "last_modified_time_before"),
    ):
        filters[arg] = None if p.get(key) is None else float(p[key])
    return jobs.list_labeling_jobs(
        call.ctx,
        call.actor,
        max_results=p.get("MaxResults", DEFAULT_PAGE),
        next_token=p.get("NextToken"),
        name_contains=p.get("NameContains"),
        status_equals=p.get("StatusEquals"),
        sort_by=p.get("SortBy", "CreationTime"),
        sort_order=p.get("SortOrder", "Ascending"),
        **filters,
    )


@operation("ListLabelingJobsForWorkteam", readers=True)
def list_labeling_jobs_for_workteam(call: Call) -> dict[str, Any]:
    p = call.params
    team = workteams.describe_team(call.ctx, call.actor, arns.team_name(p["WorkteamArn"]))
    return listing.list_labeling_jobs_for_workteam(
        call.ctx,
        call.actor,
        team.id,
        max_results=p.get("MaxResults", DEFAULT_PAGE),
        next_token=p.get("NextToken"),
        job_reference_code_contains=p.get("JobReferenceCodeContains"),
        sort_by=p.get("SortBy", "CreationTime"),
        sort_order=p.get("SortOrder", "Ascending"),
        **_time_filters(p),
    )


@operation("StopLabelingJob")
def stop_labeling_job(call: Call) -> dict[str, Any]:
    try:
        jobs.stop_labeling_job(call.ctx, call.actor, call.params["LabelingJobName"])
    except Conflict as exc:  # SageMaker: a job in a terminal state is a ValidationException
        raise validation(exc.message) from None
    return {}
