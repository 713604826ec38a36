"""Reading one labeling job: its summary and DescribeLabelingJob (listing many: ``gtcore.jobs.listing``).

LabelCounters come from the ``objects`` table with one ``GROUP BY status`` on the ``(job_id, status)``
index: ``done`` objects are HumanLabeled, ``failed`` ones FailedNonRetryableError, ``open`` ones
Unlabeled, ``machine`` ones (automated data labeling) MachineLabeled. ``skipped`` objects (already labeled
when a job was chained with the same attribute) are in none of the AWS counters; ``JobSummary.already_labeled``
counts them and ``JobSummary.progress`` treats them as finished.

Who sees what: admins and auditors every job; a worker only the jobs of his teams. Describing a job the
actor may not see raises PermissionDenied; a name that does not exist raises NotFound naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core import tags
from gtcore.core.access import ADMIN, AUDITOR, WORKER, Actor, can_read_job, require_role
from gtcore.core.errors import NotFound, PermissionDenied
from gtcore.output.writer import output_manifest_uri

STATUSES = ("Initializing", "InProgress", "Completed", "Failed", "Stopping", "Stopped")
_DESCRIBE_KEYS = (
    "InputConfig",
    "OutputConfig",
    "RoleArn",
    "LabelCategoryConfigS3Uri",
    "StoppingConditions",
    "LabelingJobAlgorithmsConfig",
    "HumanTaskConfig",
)
J, OBJ = dbm.jobs, dbm.objects


@dataclass(frozen=True)
class LabelCounters:
    human_labeled: int = 0
    machine_labeled: int = 0
    failed_non_retryable_error: int = 0
    unlabeled: int = 0

    @property
    def total_labeled(self) -> int:
        return self.human_labeled + self.machine_labeled

    def as_aws(self) -> dict[str, int]:
        return {
            "TotalLabeled": self.total_labeled,
            "HumanLabeled": self.human_labeled,
            "MachineLabeled": self.machine_labeled,
            "FailedNonRetryableError": self.failed_non_retryable_error,
            "Unlabeled": self.unlabeled,
        }


@dataclass(frozen=True)
class JobSummary:
    """One job as the pages and other modules use it (times are epoch seconds)."""

    job_id: int
    name: str
    arn: str
    status: str
    task_type: str
    label_attribute: str
    title: str
    team_id: int | None
    team_name: str | None
    workers_per_object: int
    total_objects: int
    already_labeled: int
    counters: LabelCounters
    created_at: float
    updated_at: float
    ended_at: float | None
    failure_reason: str | None
    origin: str
    parent_job_id: int | None
    input_manifest_uri: str
    output_manifest_uri: str
    reference_code: str = ""

    @property
    def progress(self) -> float:
        """Share of objects finished (labeled, failed or already labeled), 0..1."""
        if self.total_objects <= 0:
            return 1.0 if self.status == "Completed" else 0.0
        c = self.counters
        finished = c.total_labeled + c.failed_non_retryable_error + self.already_labeled
        return min(1.0, finished / self.total_objects)


def utc(ts: float | None) -> datetime | None:
    """Epoch seconds -> timezone-aware UTC datetime (boto3 returns datetimes for API timestamps)."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


def spec_of(row: Any) -> dict[str, Any]:
    try:
        spec = json.loads(row.spec_json or "{}")
    except ValueError:
        return {}
    return spec if isinstance(spec, dict) else {}


def counts_by_status(conn: Connection, job_ids: list[int]) -> dict[int, dict[str, int]]:
    """``{job_id: {status: count}}`` with one GROUP BY on the (job_id, status) index."""
    if not job_ids:
        return {}
    out: dict[int, dict[str, int]] = {j: {} for j in job_ids}
    q = select(OBJ.c.job_id, OBJ.c.status, func.count()).group_by(OBJ.c.job_id, OBJ.c.status)
    q = q.where(OBJ.c.job_id == job_ids[0]) if len(job_ids) == 1 else q.where(OBJ.c.job_id.in_(job_ids))
    for job_id, status, n in conn.execute(q):
        out[job_id][status] = int(n)
    return out


def _counters(counts: dict[str, int]) -> LabelCounters:
    return LabelCounters(
        human_labeled=counts.get("done", 0),
        machine_labeled=counts.get("machine", 0),
        failed_non_retryable_error=counts.get("failed", 0),
        unlabeled=counts.get("open", 0),
    )


def team_names(conn: Connection, team_ids: set[int]) -> dict[int, str]:
    if not team_ids:
        return {}
    rows = conn.execute(select(dbm.teams.c.id, dbm.teams.c.name).where(dbm.teams.c.id.in_(sorted(team_ids))))
    return {int(i): str(n) for i, n in rows}


def summarize(row: Any, counts: dict[str, int], team_name: str | None) -> JobSummary:
    title = ((spec_of(row).get("HumanTaskConfig") or {}).get("TaskTitle")) or ""
    return JobSummary(
        job_id=row.id,
        name=row.name,
        arn=row.arn,
        status=row.status,
        task_type=row.task_type,
        label_attribute=row.label_attribute,
        title=str(title),
        team_id=row.team_id,
        team_name=team_name,
        workers_per_object=row.workers_per_object,
        total_objects=row.total_objects,
        already_labeled=counts.get("skipped", 0),
        counters=_counters(counts),
        created_at=row.created_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
        failure_reason=row.failure_reason,
        origin=row.origin,
        parent_job_id=row.parent_job_id,
        input_manifest_uri=row.input_manifest_uri,
        output_manifest_uri=output_manifest_uri(row),
        reference_code=row.reference_code,
    )


def find_job_row(conn: Connection, name: str) -> Any:
    """The jobs row named ``name`` (case-insensitive); NotFound naming it."""
    if not isinstance(name, str) or not name:
        raise NotFound("no labeling job name given")
    row = conn.execute(select(J).where(J.c.name_lower == name.lower())).first()
    if row is None:
        raise NotFound(f"labeling job {name!r} does not exist")
    return row


def check_can_read(actor: Actor, row: Any) -> None:
    require_role(actor, ADMIN, AUDITOR, WORKER, action=f"see labeling job {row.name}")
    if not can_read_job(actor, row.team_id):
        raise PermissionDenied(f"{actor.email} cannot see labeling job {row.name}: it belongs to another team")


def job_summary(ctx: Context, actor: Actor, name: str | None = None, *, job_id: int | None = None) -> JobSummary:
    """The summary of one job, by name (case-insensitive) or id."""
    with ctx.db.read() as conn:
        if job_id is not None:
            row = conn.execute(select(J).where(J.c.id == job_id)).first()
            if row is None:
                raise NotFound(f"labeling job {job_id} does not exist")
        else:
            row = find_job_row(conn, name or "")
        check_can_read(actor, row)
        counts = counts_by_status(conn, [row.id])[row.id]
        team = team_names(conn, {row.team_id} if row.team_id is not None else set()).get(row.team_id)
    return summarize(row, counts, team)


def describe_labeling_job(ctx: Context, actor: Actor, name: str) -> dict[str, Any]:
    """DescribeLabelingJob: the response shape of the AWS API (timestamps as UTC datetimes)."""
    with ctx.db.read() as conn:
        row = find_job_row(conn, name)
        check_can_read(actor, row)
        counts = counts_by_status(conn, [row.id])[row.id]
        final_model = final_model_uri(conn, row.id)
        job_tags = tags.tags_of(conn, tags.JOB, int(row.id))
    spec = spec_of(row)
    out: dict[str, Any] = {
        "LabelingJobStatus": row.status,
        "LabelCounters": _counters(counts).as_aws(),
    }
    if row.failure_reason:
        out["FailureReason"] = row.failure_reason
    out.update(
        {
            "CreationTime": utc(row.created_at),
            "LastModifiedTime": utc(row.updated_at),
            "JobReferenceCode": row.reference_code,
            "LabelingJobName": row.name,
            "LabelingJobArn": row.arn,
            "LabelAttributeName": row.label_attribute,
        }
    )
    for key in _DESCRIBE_KEYS:
        if key in spec:
            out[key] = spec[key]
    if job_tags:
        out["Tags"] = job_tags  # as created, then AddTags / DeleteTags
    if row.status in ("Completed", "Stopped"):
        out["LabelingJobOutput"] = {"OutputDatasetS3Uri": output_manifest_uri(row)}
        if final_model:
            out["LabelingJobOutput"]["FinalActiveLearningModelArn"] = final_model
    return out


def final_model_uri(conn: Connection, job_id: int) -> str | None:
    """The URI of the latest model automated data labeling saved for the job (FinalActiveLearningModelArn)."""
    s, m = dbm.autolabel_jobs, dbm.autolabel_models
    row = conn.execute(select(m.c.uri).join(s, s.c.final_model_id == m.c.id).where(s.c.job_id == job_id)).first()
    return None if row is None else str(row.uri)
