"""The admin's view of the workforce: the table of people, roles, disabling and enabling.

Every call takes the acting Actor and requires an active admin (checked in the database).
Disabling ends the user's sessions and returns his leased tasks to the pool in one transaction
(``workforce._return_leases``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import ADMIN, ROLES, Actor
from gtcore.core.errors import Conflict, NotFound
from gtcore.workforce import signin, throttle
from gtcore.workforce.users import (
    _return_leases,
    active_admin_count,
    parse_roles,
    require_admin_db,
    roles_of,
    roles_text,
    serialize,
    user_row,
)


@dataclass(frozen=True)
class WorkerRow:
    """One line of the admin's table of people."""

    user_id: int
    email: str
    roles: tuple[str, ...]
    teams: tuple[str, ...]
    status: str  # Active | Disabled | Invited | Invitation expired
    last_login_at: float | None
    tasks_submitted: int
    worker_id: str
    sign_in_locked_until: float | None = None  # failed sign-ins lock the account (for clients that failed) until then


def get_user(ctx: Context, actor: Actor, user_id: int) -> WorkerRow:
    """One person as a row of the admin table."""
    rows = [r for r in list_workers(ctx, actor) if r.user_id == user_id]
    if not rows:
        raise NotFound(f"no user with id {user_id}")
    return rows[0]


def find_user_id(ctx: Context, actor: Actor, email: str) -> int:
    """The id of the user with this e-mail address (any letter case); NotFound otherwise."""
    with ctx.db.read() as conn:
        require_admin_db(conn, actor, "look up users")
        uid = conn.execute(
            select(dbm.users.c.id).where(dbm.users.c.email_lower == email.strip().lower())
        ).scalar_one_or_none()
    if uid is None:
        raise NotFound(f"no user with e-mail address {email.strip()!r}")
    return int(uid)


def list_workers(ctx: Context, actor: Actor, now: float | None = None) -> list[WorkerRow]:
    """Everyone in the workforce, with teams, status, last sign-in and tasks submitted."""
    t = dbm.now() if now is None else now
    u, tm, tb, a = dbm.users, dbm.team_members, dbm.teams, dbm.assignments
    with ctx.db.read() as conn:
        require_admin_db(conn, actor, "list the workforce")
        users = conn.execute(select(u).order_by(u.c.email_lower)).all()
        teams: dict[int, list[str]] = {}
        for uid, name in conn.execute(
            select(tm.c.user_id, tb.c.name).join(tb, tb.c.id == tm.c.team_id).order_by(tb.c.name_lower)
        ):
            teams.setdefault(int(uid), []).append(name)
        locks = {
            r.key: r.locked_until
            for r in conn.execute(
                select(dbm.login_throttle.c.key, dbm.login_throttle.c.locked_until).where(
                    dbm.login_throttle.c.locked_until > t
                )
            )
        }
        submitted: dict[int, int] = dict(
            conn.execute(
                select(a.c.worker_id, func.count()).where(a.c.status == "submitted").group_by(a.c.worker_id)
            ).all()
        )
    out = []
    for r in users:
        if not r.is_active:
            status = "Disabled"
        elif r.password_is_temporary:
            status = "Invitation expired" if (r.temp_password_expires_at or 0) < t else "Invited"
        else:
            status = "Active"
        out.append(
            WorkerRow(
                user_id=int(r.id),
                email=r.email,
                roles=tuple(r_ for r_ in ROLES if r_ in roles_of(r.roles)),
                teams=tuple(teams.get(int(r.id), [])),
                status=status,
                last_login_at=r.last_login_at,
                tasks_submitted=int(submitted.get(r.id, 0)),
                worker_id=r.worker_id,
                sign_in_locked_until=locks.get(throttle.account_key(r.email)),
            )
        )
    return out


def set_roles(ctx: Context, actor: Actor, user_id: int, roles: Any) -> None:
    """Replace a user's roles. The last active admin keeps the admin role."""
    new = parse_roles(roles)
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "change roles")
        serialize(conn, "admins")
        row = user_row(conn, user_id)
        if ADMIN in roles_of(row.roles) and ADMIN not in new and row.is_active and active_admin_count(conn) <= 1:
            raise Conflict(f"{row.email} is the last active administrator and keeps the admin role")
        conn.execute(update(dbm.users).where(dbm.users.c.id == user_id).values(roles=roles_text(new)))


def disable_user(ctx: Context, actor: Actor, user_id: int) -> int:
    """Disable a user: his sessions end and his leased/stopped tasks go back to the pool, in one
    transaction. Returns how many tasks went back. An admin cannot disable himself."""
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "disable users")
        serialize(conn, "admins")
        row = user_row(conn, user_id)
        if actor.user_id == user_id:
            raise Conflict("you cannot disable your own account")
        if ADMIN in roles_of(row.roles) and row.is_active and active_admin_count(conn) <= 1:
            raise Conflict(f"{row.email} is the last active administrator and cannot be disabled")
        conn.execute(update(dbm.users).where(dbm.users.c.id == user_id).values(is_active=False))
        signin.revoke_sessions(conn, user_id)
        return _return_leases(conn, user_id)


def enable_user(ctx: Context, actor: Actor, user_id: int) -> None:
    """Enable a disabled user again (he signs in with his password as before)."""
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "enable users")
        user_row(conn, user_id)
        conn.execute(update(dbm.users).where(dbm.users.c.id == user_id).values(is_active=True))


def unlock_sign_in(ctx: Context, actor: Actor, user_id: int) -> bool:
    """Forget the failed sign-ins of a user's account and lift its lock (the Workforce page, ``gtcore
    unlock-user``). True when there was something to forget. Clients that failed stay counted on their own."""
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "unlock accounts")
        return throttle.clear_account(conn, user_row(conn, user_id).email)
