"""``jobs.intermediate_step``: the 1 % step of the job's last intermediate manifest, shared by every worker
(it was remembered per process, so every worker could write the same step again).

Revision ID: 0280_intermediate_step
Revises: 0101_autolabel
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0280_intermediate_step"
down_revision = "025_signin_slots"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("intermediate_step", sa.Integer(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("gtcore migrations go forward only")
