"""Sign-in throttling counted before the password check: the account's next slot for clients without failures.

Revision ID: 025_signin_slots
Revises: 0101_autolabel

The rows of ``login_throttle`` keep their meaning (failures, the latest failure, the lock); the new column is
empty until an account's lock first slows a client without failures.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "025_signin_slots"
down_revision = "024_oidc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("login_throttle", sa.Column("next_slot_at", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("login_throttle", "next_slot_at")
