"""A partial index on the answers whose worker-response file is not written yet (the background writer's query).

Revision ID: 0003_unwritten_responses
Revises: 0002_work_items
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_unwritten_responses"
down_revision = "0002_work_items"
branch_labels = None
depends_on = None

WHERE = "status = 'submitted' AND response_uri IS NULL"


def upgrade() -> None:
    op.create_index(
        "ix_assign_unwritten",
        "assignments",
        ["job_id", "object_idx"],
        sqlite_where=sa.text(WHERE),
        postgresql_where=sa.text(WHERE),
    )


def downgrade() -> None:
    raise NotImplementedError("gtcore migrations go forward only")
