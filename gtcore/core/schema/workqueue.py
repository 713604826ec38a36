"""The background-work queue's table."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from gtcore.core.schema.registry import metadata

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
