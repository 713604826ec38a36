"""Automated data labeling: per iteration, the threshold chosen on the validation set with its lower confidence
bound, the validation scores it rests on, and the round's check on fresh human labels.

Revision ID: 0211_autolabel_bounds
Revises: 0101_autolabel
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0211_autolabel_bounds"
down_revision = "0280_intermediate_step"
branch_labels = None
depends_on = None

COLUMNS = (
    ("validation_threshold", sa.Float()),
    ("bound", sa.Float()),
    ("validation_scores_json", sa.Text()),
    ("check_count", sa.Integer()),
    ("check_metric", sa.Float()),
    ("check_failed", sa.Boolean()),
)


def upgrade() -> None:
    with op.batch_alter_table("autolabel_iterations") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("autolabel_iterations") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
