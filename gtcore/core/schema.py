"""The database schema (SQLAlchemy Core tables): state lives here (jobs, dataset objects, assignments/leases,
answers, users, teams, sessions, automated labeling, the background-work queue); data lives in the object store.
Timestamps are UTC epoch seconds stored as floats. Changes go through Alembic revisions (``gtcore/core/migrations``).
``gtcore.core.db`` re-exports every table, so callers write ``dbm.jobs``.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

SCHEMA_VERSION = 1  # schema_info's version, frozen at the baseline: Alembic's alembic_version tracks changes

metadata = MetaData()

schema_info = Table(
    "schema_info",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("email_lower", String(320), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    # comma-separated subset of {"admin","worker","auditor"}
    Column("roles", String(100), nullable=False, default=""),
    Column("password_hash", Text, nullable=True),
    Column("password_is_temporary", Boolean, nullable=False, default=False),
    Column("temp_password_expires_at", Float, nullable=True),
    Column("is_active", Boolean, nullable=False, default=True),
    # Ground Truth style public id used in worker-response files, e.g. "private.local.1a2b3c4d5e6f7a8b"
    Column("worker_id", String(64), nullable=False, unique=True),
    Column("sub", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("last_login_at", Float, nullable=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", Float, nullable=True),
)

teams = Table(
    "teams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False),
    Column("name_lower", String(63), nullable=False, unique=True),
    Column("description", String(200), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_id", Integer, ForeignKey("teams.id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("added_at", Float, nullable=False),
)

login_sessions = Table(
    "login_sessions",
    metadata,
    # sha256 of the bearer token; the token itself is never stored
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

# Failed sign-in counters, per account ("account:<email_lower>") and per client ("client:<id>").
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("window_start", Float, nullable=False),  # the latest failure
    Column("locked_until", Float, nullable=True),
    Column("next_slot_at", Float, nullable=True),  # accounts: the next slot of a client without failures
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("team_id", Integer, ForeignKey("teams.id"), nullable=True),
    Column("invited_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("delivery", String(20), nullable=False),  # "smtp" | "outbox"
    Column("delivered_to", Text, nullable=False, default=""),  # outbox file path or SMTP host
)

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

# Automated data labeling: one row per job with the loop's state, one per iteration, one per saved model.
autolabel_jobs = Table(
    "autolabel_jobs",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.id"), primary_key=True),
    Column("phase", String(12), nullable=False),  # new | probe | labeling | loop | human-only | done
    Column("iteration", Integer, nullable=False, default=0),
    Column("initial_model_uri", Text, nullable=True),
    Column("final_model_id", Integer, nullable=True),
    Column("error", Text, nullable=True),  # why the job went on with people only
    Column("updated_at", Float, nullable=False),
)

autolabel_iterations = Table(
    "autolabel_iterations",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.id"), primary_key=True),
    Column("iteration", Integer, primary_key=True, autoincrement=False),
    Column("started_at", Float, nullable=False),
    Column("released", Integer, nullable=False, default=0),  # objects sent to people by this iteration
    Column("trained_on", Integer, nullable=True),
    Column("validation_count", Integer, nullable=True),
    Column("metric_name", String(20), nullable=True),  # accuracy | mean-iou
    Column("metric", Float, nullable=True),  # on the validation objects at or above the threshold
    Column("threshold", Float, nullable=True),
    Column("training_seconds", Float, nullable=True),
    Column("inference_seconds", Float, nullable=True),
    Column("machine_labeled", Integer, nullable=True),  # labeled by the model in this iteration
    Column("human_labeled", Integer, nullable=True),  # human-labeled objects of the job when it trained
    Column("model_id", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("finished_at", Float, nullable=True),
    # the threshold chosen on the validation set and its one-sided 95 % lower bound (``threshold`` is the one the
    # round used after its check); [[confidence, score], ...] of the validation set; the check on fresh labels
    Column("validation_threshold", Float, nullable=True),
    Column("bound", Float, nullable=True),
    Column("validation_scores_json", Text, nullable=True),
    Column("check_count", Integer, nullable=True),
    Column("check_metric", Float, nullable=True),
    Column("check_failed", Boolean, nullable=True),
)

autolabel_models = Table(
    "autolabel_models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False, index=True),
    Column("iteration", Integer, nullable=False),
    Column("uri", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("kind", String(40), nullable=False),  # builtin-classifier | builtin-detector | builtin-segmenter
    Column("task_type", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)


# API access keys (SigV4): the secret is kept only sealed with the server key (GT_SECRET_KEY, core.sealing),
# because verifying a signature needs it; revoking a key deletes its row.
access_keys = Table(
    "access_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("secret_enc", Text, nullable=False),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
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

# Automated labeling: one object's embedding by the pretrained backbone (gtcore.autolabel.embeddings), computed
# once by a background worker and reused every round; ``backbone`` = the network and its weights' checksum
# (``backbone.key()``), so a changed backbone never reuses old vectors. ``vector``: float16 little-endian bytes.
autolabel_embeddings = Table(
    "autolabel_embeddings",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.id"), primary_key=True, autoincrement=False),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("backbone", String(80), primary_key=True),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=True),  # NULL: the image could not be decoded (``error`` says why)
    Column("error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
)

# The background-work queue (gtcore.core.workqueue enqueues, gtcore.work.runner claims and runs).
# status: pending | running | done | failed. At most one *pending* item per (kind, job_id, key).
work_items = Table(
    "work_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("job_id", Integer, nullable=True),
    Column("key", String(200), nullable=False, default=""),
    Column("payload_json", Text, nullable=False, default="{}"),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("run_after", Float, nullable=False),
    Column("lease_until", Float, nullable=True),
    Column("worker", String(200), nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_work_due", "status", "run_after"),
    Index("ix_work_job", "job_id", "status"),
    Index(
        "uq_work_pending",
        "kind",
        text("coalesce(job_id, 0)"),
        "key",
        unique=True,
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)


# The OIDC workforce (issue 24): the identity provider (one row, id 1; the client secret sealed with GT_SECRET_KEY),
# the people it signed in, the OIDC groups a work team lists instead of members, and sign-ins under way.
oidc_config = Table(
    "oidc_config",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", String(1024), nullable=False),
    Column("client_secret_sealed", Text, nullable=False),
    Column("issuer", String(500), nullable=False),
    Column("authorization_endpoint", String(500), nullable=False),
    Column("token_endpoint", String(500), nullable=False),
    Column("user_info_endpoint", String(500), nullable=False),
    Column("logout_endpoint", String(500), nullable=False),
    Column("jwks_uri", String(500), nullable=False),
    Column("scope", String(1024), nullable=False),
    Column("extra_params_json", Text, nullable=False, default="{}"),
    Column("updated_at", Float, nullable=False),
)

oidc_identities = Table(
    "oidc_identities",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("issuer", String(500), nullable=False),
    Column("subject", String(255), nullable=False),  # the ID token's sub
    Column("worker_sub", String(255), nullable=False),  # sagemaker:sub (worker-response files)
    Column("client_id", String(1024), nullable=False, default=""),  # sagemaker:client_id
    Column("name", String(200), nullable=False, default=""),  # sagemaker:name
    Column("groups_json", Text, nullable=False, default="[]"),  # sagemaker:groups at the latest sign-in
    Column("last_sign_in_at", Float, nullable=False),
    UniqueConstraint("issuer", "subject", name="uq_oidc_identity"),
)

team_oidc_groups = Table(
    "team_oidc_groups",
    metadata,
    Column("team_id", Integer, ForeignKey("teams.id"), primary_key=True),
    Column("group_name", String(63), primary_key=True),
)

oidc_logins = Table(
    "oidc_logins",
    metadata,
    Column("state_hash", String(64), primary_key=True),  # sha256 of the state: single use
    Column("binding_hash", String(64), nullable=False),  # sha256 of the browser's binding cookie
    Column("nonce", String(100), nullable=False),
    Column("code_verifier_sealed", Text, nullable=False),
    Column("redirect_uri", String(1000), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("used", Boolean, nullable=False, default=False),
)
