"""The OIDC workforce's tables (issue 24)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from gtcore.core.schema.registry import metadata

# The OIDC workforce (issue 24): the identity provider (one row, id 1; the client secret sealed with GT_SECRET_KEY),
# the people it signed in, the OIDC groups a work team lists instead of members, and sign-ins under way.
oidc_config = Table(
    "oidc_config",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("client_id", String(1024), nullable=False),
    Column("client_secret_sealed", Text, nullable=False),
    Column("issuer", String(500), nullable=False),
    Column("authorization_endpoint", String(500), nullable=False),
    Column("token_endpoint", String(500), nullable=False),
    Column("user_info_endpoint", String(500), nullable=False),
    Column("logout_endpoint", String(500), nullable=False),
    Column("jwks_uri", String(500), nullable=False),
    Column("scope", String(1024), nullable=False),
    Column("extra_params_json", Text, nullable=False, default="{}"),
    Column("updated_at", Float, nullable=False),
)

oidc_identities = Table(
    "oidc_identities",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("issuer", String(500), nullable=False),
    Column("subject", String(255), nullable=False),  # the ID token's sub
    Column("worker_sub", String(255), nullable=False),  # sagemaker:sub (worker-response files)
    Column("client_id", String(1024), nullable=False, default=""),  # sagemaker:client_id
    Column("name", String(200), nullable=False, default=""),  # sagemaker:name
    Column("groups_json", Text, nullable=False, default="[]"),  # sagemaker:groups at the latest sign-in
    Column("last_sign_in_at", Float, nullable=False),
    UniqueConstraint("issuer", "subject", name="uq_oidc_identity"),
)

team_oidc_groups = Table(
    "team_oidc_groups",
    metadata,
    Column("team_id", Integer, ForeignKey("teams.id"), primary_key=True),
    Column("group_name", String(63), primary_key=True),
)

oidc_logins = Table(
    "oidc_logins",
    metadata,
    Column("state_hash", String(64), primary_key=True),  # sha256 of the state: single use
    Column("binding_hash", String(64), nullable=False),  # sha256 of the browser's binding cookie
    Column("nonce", String(100), nullable=False),
    Column("code_verifier_sealed", Text, nullable=False),
    Column("redirect_uri", String(1000), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("used", Boolean, nullable=False, default=False),
)
