"""The workforce's tables: users and roles, work teams and their members, sign-in sessions and failed-attempt
counters, invitations, and API access keys."""

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
)

from gtcore.core.schema.registry import metadata

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False),
    Column("email_lower", String(320), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False, default=""),
    # comma-separated subset of {"admin","worker","auditor"}
    Column("roles", String(100), nullable=False, default=""),
    Column("password_hash", Text, nullable=True),
    Column("password_is_temporary", Boolean, nullable=False, default=False),
    Column("temp_password_expires_at", Float, nullable=True),
    Column("is_active", Boolean, nullable=False, default=True),
    # Ground Truth style public id used in worker-response files, e.g. "private.local.1a2b3c4d5e6f7a8b"
    Column("worker_id", String(64), nullable=False, unique=True),
    Column("sub", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("last_login_at", Float, nullable=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", Float, nullable=True),
)

teams = Table(
    "teams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False),
    Column("name_lower", String(63), nullable=False, unique=True),
    Column("description", String(200), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
)

team_members = Table(
    "team_members",
    metadata,
    Column("team_id", Integer, ForeignKey("teams.id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("added_at", Float, nullable=False),
)

login_sessions = Table(
    "login_sessions",
    metadata,
    # sha256 of the bearer token; the token itself is never stored
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

# Failed sign-in counters, per account ("account:<email_lower>") and per client ("client:<id>").
login_throttle = Table(
    "login_throttle",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),
    Column("window_start", Float, nullable=False),  # the latest failure
    Column("locked_until", Float, nullable=True),
    Column("next_slot_at", Float, nullable=True),  # accounts: the next slot of a client without failures
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("team_id", Integer, ForeignKey("teams.id"), nullable=True),
    Column("invited_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("delivery", String(20), nullable=False),  # "smtp" | "outbox"
    Column("delivered_to", Text, nullable=False, default=""),  # outbox file path or SMTP host
)

# API access keys (SigV4): the secret is kept only sealed with the server key (GT_SECRET_KEY, core.sealing),
# because verifying a signature needs it; revoking a key deletes its row.
access_keys = Table(
    "access_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False, index=True),
    Column("secret_enc", Text, nullable=False),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
)
