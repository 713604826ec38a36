"""Users and roles of the private workforce, and the Actor every gtcore call receives.

- Roles: ``admin`` (team lead), ``worker`` (annotator), ``auditor``; a user may hold several.
- No default password: while no admin exists, ``create_first_admin`` makes one (the app's
  one-time form and ``gtcore create-admin``); once one exists it refuses.
- ``actor_for_token`` rebuilds the Actor (roles, teams, active flag) from the database on every call,
  so a disabled user's old session fails at once.
- Every other call takes the acting ``Actor`` and requires an active admin, checked against the
  database inside the transaction (a stale Actor object of a since-disabled admin is refused).

Teams live in ``gtcore.workforce.teams``, the admin table and disabling in ``gtcore.workforce.roster``, invitations and
password resets in ``gtcore.workforce.invitations``, sessions in ``gtcore.workforce.signin``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, select, text, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import ADMIN, ROLES, Actor, require_admin, require_role
from gtcore.core.errors import (
    Conflict,
    NotFound,
    PasswordChangeRequired,
    PermissionDenied,
    Problem,
    SessionExpired,
    ValidationError,
)
from gtcore.workforce import passwords, signin

# deliberately plain: no spaces, quotes, angle brackets or control characters anywhere
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@" + _LABEL + r"(?:\." + _LABEL + r")+")


@dataclass(frozen=True)
class Profile:
    """What a signed-in user may read about himself."""

    user_id: int
    email: str
    roles: tuple[str, ...]
    teams: tuple[str, ...]
    worker_id: str
    last_login_at: float | None


# --- small helpers ----------------------------------------------------------------------------------------


def email_problem(email: str) -> str | None:
    """Why ``email`` is not a usable e-mail address (None when it is)."""
    if not email:
        return "is empty"
    if len(email) > 254 or not _EMAIL_RE.fullmatch(email):
        return f"{email!r} is not an e-mail address"
    return None


def parse_roles(roles: Any) -> frozenset[str]:
    """Roles from an iterable or a comma-separated string; ValidationError on unknown or none."""
    items = roles.split(",") if isinstance(roles, str) else list(roles)
    clean = [str(r).strip().lower() for r in items if str(r).strip()]
    bad = [r for r in clean if r not in ROLES]
    problems = [Problem(f"unknown role {r!r} (use {', '.join(ROLES)})", field="roles") for r in bad]
    if not clean:
        problems.append(Problem("give at least one role", field="roles"))
    if problems:
        raise ValidationError(problems, summary="roles are not valid")
    return frozenset(clean)


def roles_text(roles: frozenset[str]) -> str:
    return ",".join(r for r in ROLES if r in roles)


def roles_of(text_value: str | None) -> frozenset[str]:
    return frozenset(r for r in (text_value or "").split(",") if r in ROLES)


def new_user_values(
    email: str, roles: frozenset[str], password_hash: str, temporary: bool, expires_at: float | None, now: float
) -> dict[str, Any]:
    """Column values for a new ``users`` row (ids are random, never derived from the e-mail)."""
    return {
        "email": email,
        "email_lower": email.lower(),
        "display_name": email.split("@")[0][:200],
        "roles": roles_text(roles),
        "password_hash": password_hash,
        "password_is_temporary": temporary,
        "temp_password_expires_at": expires_at,
        "is_active": True,
        "worker_id": "private.local." + uuid.uuid4().hex[:16],
        "sub": str(uuid.uuid4()),
        "created_at": now,
        "failed_logins": 0,
    }


def serialize(conn: Connection, name: str) -> None:
    """Serialize check-then-insert sections across processes (PostgreSQL advisory lock; SQLite's
    BEGIN IMMEDIATE already serializes writers)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": "gtcore:" + name})


def require_admin_db(conn: Connection, actor: Actor, action: str) -> None:
    """``require_admin`` plus a check that the actor is still an active admin in the database."""
    require_admin(actor, action)
    if actor.system:
        return
    row = conn.execute(select(dbm.users.c.roles, dbm.users.c.is_active).where(dbm.users.c.id == actor.user_id)).first()
    if row is None or not row.is_active or ADMIN not in roles_of(row.roles):
        raise PermissionDenied(f"{actor.email} cannot {action}: it is no longer an active admin")


def user_row(conn: Connection, user_id: int) -> Any:
    row = conn.execute(select(dbm.users).where(dbm.users.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"no user with id {user_id}")
    return row


def active_admin_count(conn: Connection) -> int:
    u = dbm.users
    rows = conn.execute(select(u.c.roles).where(u.c.is_active.is_(True))).all()
    return sum(1 for r in rows if ADMIN in roles_of(r.roles))


# --- actors -------------------------------------------------------------------------------------------------


def _actor_from_row(conn: Connection, row: Any) -> Actor:
    team_ids = (
        conn.execute(select(dbm.team_members.c.team_id).where(dbm.team_members.c.user_id == row.id)).scalars().all()
    )
    return Actor(
        user_id=int(row.id),
        email=row.email,
        roles=roles_of(row.roles),
        team_ids=frozenset(int(t) for t in team_ids),
        worker_id=row.worker_id,
        is_active=bool(row.is_active),
    )


def actor_for(ctx: Context, user_id: int) -> Actor:
    """The Actor of ``user_id`` as the database has it now (NotFound when there is no such user)."""
    with ctx.db.read() as conn:
        return _actor_from_row(conn, user_row(conn, user_id))


def actor_for_token(ctx: Context, token: str | None, now: float | None = None) -> Actor:
    """The Actor of a live session, rebuilt from the database.

    Raises:
        SessionExpired: no such session, ended, idle too long, too old, or the user is disabled.
        PasswordChangeRequired: the user signed in with a temporary password and must replace it.
    """
    t = dbm.now() if now is None else now
    with ctx.db.read() as conn:  # one read transaction: every Streamlit rerun pays this
        user_id, due = signin.live_session(conn, ctx.settings, token, t)
        row = user_row(conn, user_id)
        actor = _actor_from_row(conn, row)
    if due and token:
        signin.touch_session(ctx, token, t)
    if not row.is_active:
        raise SessionExpired("this account is disabled: ask your team lead")
    if row.password_is_temporary:
        raise PasswordChangeRequired("choose a new password to replace the temporary one")
    return actor


# --- first admin ----------------------------------------------------------------------------------------------


def admin_exists(ctx: Context) -> bool:
    """True once an administrator account exists (the first-admin form is then gone)."""
    u = dbm.users
    with ctx.db.read() as conn:
        rows = conn.execute(select(u.c.roles)).all()
    return any(ADMIN in roles_of(r.roles) for r in rows)


def create_first_admin(ctx: Context, email: str, password: str, now: float | None = None) -> Actor:
    """Create the first administrator with the password he chose; Conflict once any admin exists."""
    t = dbm.now() if now is None else now
    email = email.strip()
    problems = [Problem(p, field="email") for p in [email_problem(email)] if p]
    problems += passwords.password_problems(password, email)
    if problems:
        raise ValidationError(problems, summary="the administrator account cannot be created")
    pw_hash = passwords.hash_password(password)
    with ctx.db.write() as conn:
        serialize(conn, "first-admin")
        if any(ADMIN in roles_of(r.roles) for r in conn.execute(select(dbm.users.c.roles)).all()):
            raise Conflict("an administrator already exists: sign in, or ask an administrator to invite you")
        if conn.execute(select(dbm.users.c.id).where(dbm.users.c.email_lower == email.lower())).first():
            raise Conflict(f"an account for {email} already exists")
        values = new_user_values(email, frozenset({ADMIN}), pw_hash, False, None, t)
        uid = int(conn.execute(dbm.users.insert().values(**values)).inserted_primary_key[0])  # type: ignore[index]
        return _actor_from_row(conn, user_row(conn, uid))


# --- admin operations on people ------------------------------------------------------------------------------


def _return_leases(conn: Connection, user_id: int, team_id: int | None = None) -> int:
    """Send the user's leased and stopped tasks back to the pool (all jobs, or only ``team_id``'s jobs).

    Runs inside the caller's write transaction; returns how many tasks went back.
    """
    a, o = dbm.assignments, dbm.objects
    t = dbm.now()
    cond = and_(a.c.worker_id == user_id, a.c.status.in_(("leased", "stopped")))
    if team_id is not None:
        cond = and_(cond, a.c.job_id.in_(select(dbm.jobs.c.id).where(dbm.jobs.c.team_id == team_id)))
    released = conn.execute(
        update(a).where(cond).values(status="released", updated_at=t).returning(a.c.job_id, a.c.object_idx)
    ).all()
    # (job, object, worker) is unique, so each object appears at most once per job: one UPDATE per chunk
    by_job: dict[int, list[int]] = {}
    for job_id, idx in released:
        by_job.setdefault(int(job_id), []).append(int(idx))
    for job_id, idxs in by_job.items():
        for i in range(0, len(idxs), 500):
            conn.execute(
                update(o)
                .where(o.c.job_id == job_id, o.c.idx.in_(idxs[i : i + 500]), o.c.taken > 0)
                .values(taken=o.c.taken - 1, updated_at=t)
            )
    return len(released)


def my_profile(ctx: Context, actor: Actor) -> Profile:
    """The signed-in user's own account (any active role)."""
    require_role(actor, *ROLES, action="read his account")
    if actor.user_id is None:
        raise NotFound("the system operator has no account")
    with ctx.db.read() as conn:
        row = user_row(conn, actor.user_id)
        if not row.is_active:
            raise PermissionDenied(f"{actor.email} is disabled")
        names = (
            conn.execute(
                select(dbm.teams.c.name)
                .join(dbm.team_members, dbm.team_members.c.team_id == dbm.teams.c.id)
                .where(dbm.team_members.c.user_id == actor.user_id)
                .order_by(dbm.teams.c.name_lower)
            )
            .scalars()
            .all()
        )
    roles = tuple(r for r in ROLES if r in roles_of(row.roles))
    return Profile(int(row.id), row.email, roles, tuple(names), row.worker_id, row.last_login_at)
