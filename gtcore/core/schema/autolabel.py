"""Automated data labeling's tables (``gtcore.autolabel``): the loop's state per job, its iterations, the saved
models and the backbone's stored embeddings."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)

from gtcore.core.schema.registry import metadata

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
