"""Labeling jobs' tables: the jobs, their dataset objects (one per input manifest line), the assignments
(leases, drafts and answers) and the tags of jobs and work teams."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from gtcore.core.schema.registry import metadata

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False),
    Column("name_lower", String(63), nullable=False, unique=True),
    Column("arn", String(300), nullable=False),
    Column("reference_code", String(64), nullable=False),
    Column("label_attribute", String(127), nullable=False),
    # "BoundingBox" | "ImageClassification" | "ImageMultiClassification" | "AdjustmentBoundingBox"
    Column("task_type", String(64), nullable=False),
    # Initializing | InProgress | Completed | Failed | Stopping | Stopped
    Column("status", String(20), nullable=False),
    Column("spec_json", Text, nullable=False),  # the CreateLabelingJob-shaped request, as accepted
    Column("labels_json", Text, nullable=False),  # ["cat","dog",...]: class index = position
    Column("instructions_json", Text, nullable=False, default="{}"),
    Column("team_id", Integer, ForeignKey("teams.id"), nullable=True, index=True),
    Column("input_manifest_uri", Text, nullable=False),
    Column("output_path", Text, nullable=False),  # S3OutputPath; the job folder is <output_path>/<name>/
    Column("workers_per_object", Integer, nullable=False),
    Column("task_time_limit", Integer, nullable=False),
    Column("availability_lifetime", Integer, nullable=False),
    Column("max_concurrent", Integer, nullable=False),
    Column("total_objects", Integer, nullable=False, default=0),
    Column("parent_job_id", Integer, ForeignKey("jobs.id"), nullable=True),
    Column("origin", String(20), nullable=False, default="new"),  # new | clone | chain
    Column("created_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Column("failure_reason", String(1024), nullable=True),
    Column("intermediate_step", Integer, nullable=True),  # 1 % step of the last intermediate manifest written
    Index("ix_jobs_status", "status"),
    # ListLabelingJobs' default order (CreationTime): a page of 100 of 10,000 jobs without sorting them all
    Index("ix_jobs_created", "created_at", "id"),
)

objects = Table(
    "objects",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.id"), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),  # datasetObjectId: 0-based line index
    Column("line_json", Text, nullable=False),  # the input manifest line as read (all keys kept)
    Column("source_ref", Text, nullable=True),
    Column("needed", Integer, nullable=False),  # answers still required (0 for already-labeled lines)
    Column("taken", Integer, nullable=False, default=0),  # live leases + submitted answers
    Column("answers", Integer, nullable=False, default=0),
    Column("declines", Integer, nullable=False, default=0),
    # open | done | failed | skipped (already labeled, chained with the same attribute) | machine (labeled by
    # automated data labeling: consolidated_json holds the machine label, "human-annotated":"no")
    Column("status", String(10), nullable=False),
    Column("image_error", Text, nullable=True),  # flagged for the team lead when the image fails to decode
    Column("consolidated_json", Text, nullable=True),  # {"<attr>":..., "<attr>-metadata":...}
    Column("updated_at", Float, nullable=False),
    # automated data labeling (gtcore.autolabel): an open object the loop has not released to people yet is
    # held (never claimed); al_role = probe | train | validation | batch once released; al_confidence = the
    # latest model's confidence (uncertainty ranking); al_iteration = the iteration that released/labeled it
    Column("held", Boolean, nullable=False, default=False, server_default="0"),
    Column("al_role", String(12), nullable=True),
    Column("al_iteration", Integer, nullable=True),
    Column("al_confidence", Float, nullable=True),
    Index("ix_objects_job_status_idx", "job_id", "status", "idx"),
)

assignments = Table(
    "assignments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False),
    Column("object_idx", Integer, nullable=False),
    Column("worker_id", Integer, ForeignKey("users.id"), nullable=False),
    # leased | stopped | submitted | declined | released | expired
    Column("status", String(10), nullable=False),
    Column("accepted_at", Float, nullable=False),
    Column("lease_expires_at", Float, nullable=False),
    Column("submitted_at", Float, nullable=True),
    Column("draft_json", Text, nullable=True),
    Column("draft_updated_at", Float, nullable=True),
    Column("answer_json", Text, nullable=True),  # answerContent as written to worker-response
    Column("time_spent", Float, nullable=True),
    Column("decline_reason", Text, nullable=True),
    Column("response_uri", Text, nullable=True),  # set once the worker-response file is written
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("job_id", "object_idx", "worker_id", name="uq_assignment_worker_object"),
    Index("ix_assign_job_status_exp", "job_id", "status", "lease_expires_at"),
    Index("ix_assign_worker_status", "worker_id", "status"),
    # answers whose worker-response file is not written yet (the background writer's query)
    Index(
        "ix_assign_unwritten",
        "job_id",
        "object_idx",
        sqlite_where=text("status = 'submitted' AND response_uri IS NULL"),
        postgresql_where=text("status = 'submitted' AND response_uri IS NULL"),
    ),
)

# Tags of labeling jobs and work teams (CreateLabelingJob/CreateWorkteam Tags, AddTags, DeleteTags).
# kind: "labeling-job" | "workteam"; resource_id: jobs.id or teams.id.
resource_tags = Table(
    "resource_tags",
    metadata,
    Column("kind", String(20), primary_key=True),
    Column("resource_id", Integer, primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False, default=""),
)
