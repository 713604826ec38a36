"""Automated labeling: the pretrained backbone's stored embeddings (one row per job, object and backbone).

Revision ID: 021_embeddings
Revises: 0101_autolabel
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "021_embeddings"
down_revision = "0211_autolabel_bounds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "autolabel_embeddings",
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("backbone", sa.String(length=80), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "idx", "backbone"),
    )


def downgrade() -> None:
    op.drop_table("autolabel_embeddings")
