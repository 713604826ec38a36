"""Listing labeling jobs: ``list_jobs`` (summaries for the pages) and ``list_labeling_jobs`` (the
ListLabelingJobs shape: filters, sorting, paging tokens). Who sees what: admins and auditors every job, a worker
only the jobs of his teams. One job's summary and DescribeLabelingJob: ``gtcore.jobs.describe``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from sqlalchemy import asc, desc, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import ADMIN, AUDITOR, WORKER, Actor, require_role
from gtcore.core.errors import Problem, SpecError
from gtcore.jobs.describe import STATUSES, JobSummary, counts_by_status, spec_of, summarize, team_names, utc
from gtcore.jobs.spec_checks import Checker

J = dbm.jobs
SORT_BY = ("Name", "CreationTime", "Status")
SORT_ORDER = ("Ascending", "Descending")


def _list_filters(
    c: Checker, name_contains: str | None, status_equals: str | None, sort_by: str, sort_order: str
) -> None:
    if name_contains is not None:
        c.check_text(name_contains, "NameContains", max_len=63, pattern=r"[a-zA-Z0-9\-]+")
    if status_equals is not None:
        c.enum(status_equals, "StatusEquals", STATUSES)
    c.enum(sort_by, "SortBy", SORT_BY)
    c.enum(sort_order, "SortOrder", SORT_ORDER)


def _visible(actor: Actor) -> Any:
    """A WHERE clause limiting rows to what the actor may see (None: everything)."""
    require_role(actor, ADMIN, AUDITOR, WORKER, action="list labeling jobs")
    if actor.has(ADMIN) or actor.has(AUDITOR):
        return None
    return J.c.team_id.in_(sorted(actor.team_ids)) if actor.team_ids else J.c.id < 0


def list_jobs(
    ctx: Context,
    actor: Actor,
    *,
    name_contains: str | None = None,
    status_equals: str | None = None,
    sort_by: str = "CreationTime",
    sort_order: str = "Ascending",
    creation_time_after: float | None = None,
    creation_time_before: float | None = None,
    last_modified_time_after: float | None = None,
    last_modified_time_before: float | None = None,
    team_id: int | None = None,
    reference_code_contains: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[JobSummary]:
    """Jobs the actor may see, filtered (name substring case-insensitive, status, times) and sorted."""
    c = Checker()
    _list_filters(c, name_contains, status_equals, sort_by, sort_order)
    if c.problems:
        raise SpecError(c.problems, summary="cannot list labeling jobs")
    q = select(J)
    visible = _visible(actor)
    if visible is not None:
        q = q.where(visible)
    if name_contains:
        q = q.where(J.c.name_lower.contains(name_contains.lower(), autoescape=True))
    if status_equals:
        q = q.where(J.c.status == status_equals)
    if team_id is not None:
        q = q.where(J.c.team_id == team_id)
    if reference_code_contains:
        q = q.where(J.c.reference_code.contains(reference_code_contains, autoescape=True))
    bounds = (
        (J.c.created_at, creation_time_after, True),
        (J.c.created_at, creation_time_before, False),
        (J.c.updated_at, last_modified_time_after, True),
        (J.c.updated_at, last_modified_time_before, False),
    )
    for col, bound, after in bounds:
        if bound is not None:
            q = q.where(col > bound if after else col < bound)
    key = {"Name": [J.c.name_lower], "CreationTime": [J.c.created_at], "Status": [J.c.status, J.c.created_at]}[sort_by]
    order = asc if sort_order == "Ascending" else desc
    q = q.order_by(*[order(k) for k in key], order(J.c.id)).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    with ctx.db.read() as conn:
        rows = conn.execute(q).all()
        counts = counts_by_status(conn, [r.id for r in rows])
        teams = team_names(conn, {r.team_id for r in rows if r.team_id is not None})
    return [summarize(r, counts[r.id], teams.get(r.team_id)) for r in rows]


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        value = int(json.loads(base64.urlsafe_b64decode(token.encode())).get("offset", -1))
    except (ValueError, AttributeError, TypeError):
        value = -1
    if value < 0:
        raise SpecError([Problem(f"{token[:40]!r} is not a token this service returned", field="NextToken")])
    return value


def _page(
    ctx: Context, actor: Actor, max_results: int | None, next_token: str | None, filters: dict[str, Any]
) -> tuple[list[JobSummary], str | None]:
    if max_results is not None and (isinstance(max_results, bool) or not 1 <= int(max_results) <= 100):
        raise SpecError([Problem(f"must be 1-100, not {max_results}", field="MaxResults")])
    offset = _offset(next_token)
    page = list_jobs(ctx, actor, limit=None if max_results is None else max_results + 1, offset=offset, **filters)
    more = max_results is not None and len(page) > max_results
    page = page[:max_results] if max_results is not None else page
    return page, _token(offset + len(page)) if more else None


def list_labeling_jobs_for_workteam(
    ctx: Context,
    actor: Actor,
    team_id: int,
    *,
    max_results: int | None = None,
    next_token: str | None = None,
    job_reference_code_contains: str | None = None,
    **filters: Any,
) -> dict[str, Any]:
    """ListLabelingJobsForWorkteam: the team's jobs as ``LabelingJobForWorkteamSummary`` items."""
    if job_reference_code_contains is not None:
        c = Checker()
        c.check_text(job_reference_code_contains, "JobReferenceCodeContains", min_len=1, max_len=255, pattern=r".+")
        if c.problems:
            raise SpecError(c.problems, summary="cannot list labeling jobs")
    filters.update(team_id=team_id, reference_code_contains=job_reference_code_contains)
    page, token = _page(ctx, actor, max_results, next_token, filters)
    items = [
        {
            "LabelingJobName": s.name,
            "JobReferenceCode": s.reference_code,
            "WorkRequesterAccountId": ctx.settings.aws_account_id,
            "CreationTime": utc(s.created_at),
            "LabelCounters": {
                "HumanLabeled": s.counters.human_labeled,
                "PendingHuman": s.counters.unlabeled,
                "Total": s.total_objects,
            },
            "NumberOfHumanWorkersPerDataObject": s.workers_per_object,
        }
        for s in page
    ]
    out: dict[str, Any] = {"LabelingJobSummaryList": items}
    if token:
        out["NextToken"] = token
    return out


def list_labeling_jobs(
    ctx: Context,
    actor: Actor,
    *,
    max_results: int | None = None,
    next_token: str | None = None,
    **filters: Any,
) -> dict[str, Any]:
    """ListLabelingJobs: ``{"LabelingJobSummaryList": [...], "NextToken"?}`` (filters as in ``list_jobs``)."""
    page, token = _page(ctx, actor, max_results, next_token, filters)
    with ctx.db.read() as conn:
        specs = (
            {
                r.id: spec_of(r)
                for r in conn.execute(select(J.c.id, J.c.spec_json).where(J.c.id.in_([s.job_id for s in page])))
            }
            if page
            else {}
        )
    out: dict[str, Any] = {"LabelingJobSummaryList": [_aws_summary(s, specs.get(s.job_id, {})) for s in page]}
    if token:
        out["NextToken"] = token
    return out


def _aws_summary(s: JobSummary, spec: dict[str, Any]) -> dict[str, Any]:
    human = spec.get("HumanTaskConfig") or {}
    item: dict[str, Any] = {
        "LabelingJobName": s.name,
        "LabelingJobArn": s.arn,
        "CreationTime": utc(s.created_at),
        "LastModifiedTime": utc(s.updated_at),
        "LabelingJobStatus": s.status,
        "LabelCounters": s.counters.as_aws(),
        "WorkteamArn": human.get("WorkteamArn", s.team_name or ""),
    }
    if human.get("PreHumanTaskLambdaArn"):
        item["PreHumanTaskLambdaArn"] = human["PreHumanTaskLambdaArn"]
    acs = (human.get("AnnotationConsolidationConfig") or {}).get("AnnotationConsolidationLambdaArn")
    if acs:
        item["AnnotationConsolidationLambdaArn"] = acs
    if s.failure_reason:
        item["FailureReason"] = s.failure_reason
    if s.status in ("Completed", "Stopped"):
        item["LabelingJobOutput"] = {"OutputDatasetS3Uri": s.output_manifest_uri}
    if "InputConfig" in spec:
        item["InputConfig"] = spec["InputConfig"]
    return item
