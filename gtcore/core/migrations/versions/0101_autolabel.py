"""Automated data labeling: held objects and the loop's state, iterations and saved models.

Revision ID: 0101_autolabel
Revises: 0002_work_items
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0101_autolabel"
down_revision = "0003_unwritten_responses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("objects", sa.Column("held", sa.Boolean(), nullable=False, server_default="0"))
    op.add_column("objects", sa.Column("al_role", sa.String(length=12), nullable=True))
    op.add_column("objects", sa.Column("al_iteration", sa.Integer(), nullable=True))
    op.add_column("objects", sa.Column("al_confidence", sa.Float(), nullable=True))
    op.create_table(
        "autolabel_jobs",
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("phase", sa.String(length=12), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("initial_model_uri", sa.Text(), nullable=True),
        sa.Column("final_model_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_table(
        "autolabel_iterations",
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("iteration", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("released", sa.Integer(), nullable=False),
        sa.Column("trained_on", sa.Integer(), nullable=True),
        sa.Column("validation_count", sa.Integer(), nullable=True),
        sa.Column("metric_name", sa.String(length=20), nullable=True),
        sa.Column("metric", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("training_seconds", sa.Float(), nullable=True),
        sa.Column("inference_seconds", sa.Float(), nullable=True),
        sa.Column("machine_labeled", sa.Integer(), nullable=True),
        sa.Column("human_labeled", sa.Integer(), nullable=True),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", "iteration"),
    )
    op.create_table(
        "autolabel_models",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), sa.ForeignKey("jobs.id"), nullable=False),
        sa.Column("iteration", sa.Integer(), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("task_type", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_autolabel_models_job_id", "autolabel_models", ["job_id"])


def downgrade() -> None:
    raise NotImplementedError("gtcore migrations go forward only")
