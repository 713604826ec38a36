"""The OIDC workforce (issue 24): the identity provider, the people it signs in, teams' OIDC groups, sign-ins under way.

Revision ID: 024_oidc
Revises: 0101_autolabel
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "024_oidc"
down_revision = "022_api_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=1024), nullable=False),
        sa.Column("client_secret_sealed", sa.Text(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("authorization_endpoint", sa.String(length=500), nullable=False),
        sa.Column("token_endpoint", sa.String(length=500), nullable=False),
        sa.Column("user_info_endpoint", sa.String(length=500), nullable=False),
        sa.Column("logout_endpoint", sa.String(length=500), nullable=False),
        sa.Column("jwks_uri", sa.String(length=500), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("extra_params_json", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "oidc_identities",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("worker_sub", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=1024), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("groups_json", sa.Text(), nullable=False),
        sa.Column("last_sign_in_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("issuer", "subject", name="uq_oidc_identity"),
    )
    op.create_table(
        "team_oidc_groups",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("group_name", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(["team_id"], ["teams.id"]),
        sa.PrimaryKeyConstraint("team_id", "group_name"),
    )
    op.create_table(
        "oidc_logins",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("binding_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=100), nullable=False),
        sa.Column("code_verifier_sealed", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1000), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("used", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("state_hash"),
    )


def downgrade() -> None:
    raise NotImplementedError("gtcore migrations go forward only")
