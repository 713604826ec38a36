"""The SageMaker API (issue 22): per-user access keys (secrets encrypted), tags of jobs and work teams, and an
index for listing jobs by creation time.

Revision ID: 022_api_keys
Revises: 0101_autolabel
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "022_api_keys"
down_revision = "0101_autolabel"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_used_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("key_id"),
    )
    op.create_index("ix_access_keys_user_id", "access_keys", ["user_id"])
    op.create_table(
        "resource_tags",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("kind", "resource_id", "key"),
    )
    _copy_job_tags()
    op.create_index("ix_jobs_created", "jobs", ["created_at", "id"])


def _copy_job_tags() -> None:
    """Jobs made before this revision kept their Tags only in the request: copy them into resource_tags."""
    conn = op.get_bind()
    tags = sa.table("resource_tags", sa.column("kind"), sa.column("resource_id"), sa.column("key"), sa.column("value"))
    for job_id, spec_json in conn.execute(sa.text("SELECT id, spec_json FROM jobs")):
        try:
            spec = json.loads(spec_json or "{}")
        except ValueError:
            continue
        items = spec.get("Tags") if isinstance(spec, dict) else None
        rows = {
            str(t["Key"]): str(t.get("Value", ""))
            for t in (items if isinstance(items, list) else [])
            if isinstance(t, dict) and isinstance(t.get("Key"), str)
        }
        if rows:
            conn.execute(
                sa.insert(tags),
                [{"kind": "labeling-job", "resource_id": job_id, "key": k, "value": v} for k, v in rows.items()],
            )


def downgrade() -> None:
    raise NotImplementedError("gtcore migrations go forward only")
