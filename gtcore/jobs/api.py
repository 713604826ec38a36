"""Labeling jobs: the CreateLabelingJob-shaped lifecycle (create, describe, list, stop, clone, chain).

This module is the public face; the work is split by concern:

- ``gtcore.jobs.spec`` (+ ``jobspec_human``, ``jobspec_checks``): the request and its validation (pure);
- ``gtcore.jobs.preflight``: checks that need the store / database; ``gtcore.jobs.create``: the one-transaction insert;
- ``gtcore.jobs.describe``: one job's summary, DescribeLabelingJob and LabelCounters; ``gtcore.jobs.listing``: lists;
- ``gtcore.jobs.actions``: stop, fail, clone, chain, stopping conditions.

Authorization: create, stop, clone and chain need the admin role; describe and list show admins and
auditors every job and a worker only the jobs of his teams. There is no delete: job names stay taken.
"""

from __future__ import annotations

from typing import Any

from gtcore.context import Context
from gtcore.core.access import Actor
from gtcore.jobs.actions import (
    chain_labeling_job,
    check_stopping_conditions,
    clone_labeling_job,
    fail_labeling_job,
    fail_overdue_jobs,
    stop_labeling_job,
)
from gtcore.jobs.arns import job_arn, workteam_arn
from gtcore.jobs.create import create_job
from gtcore.jobs.describe import STATUSES, JobSummary, LabelCounters, describe_labeling_job, job_summary
from gtcore.jobs.listing import list_jobs, list_labeling_jobs
from gtcore.jobs.preflight import validate_create
from gtcore.jobs.request_file import load_request, resolve_relative_paths
from gtcore.jobs.spec import JobSpec, check_job_spec, parse_job_spec

__all__ = [
    "STATUSES",
    "JobSpec",
    "JobSummary",
    "LabelCounters",
    "chain_labeling_job",
    "check_job_spec",
    "check_stopping_conditions",
    "clone_labeling_job",
    "create_job",
    "create_labeling_job",
    "describe_labeling_job",
    "fail_labeling_job",
    "fail_overdue_jobs",
    "job_arn",
    "job_summary",
    "list_jobs",
    "list_labeling_jobs",
    "load_request",
    "parse_job_spec",
    "resolve_relative_paths",
    "stop_labeling_job",
    "validate_create",
    "workteam_arn",
]


def create_labeling_job(ctx: Context, actor: Actor, request: Any, *, where: str = "") -> JobSummary:
    """CreateLabelingJob: validate everything, create the job (InProgress) and return its summary.

    ``JobSummary.arn`` is the response's ``LabelingJobArn``. Raises SpecError / ManifestError listing
    every problem (nothing is created), PermissionDenied for non-admins, Conflict if the name got taken.
    """
    job_id = create_job(ctx, actor, request, where=where)
    return job_summary(ctx, actor, job_id=job_id)
