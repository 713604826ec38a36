"""Invitations, resent invitations and password resets (their delivery: ``gtcore.workforce.invitation_mail``).

Each invited address gets an account with a random temporary password that expires after
``Settings.temp_password_days`` and an e-mail with the portal URL and the temporary password (through SMTP, or
the outbox whose temporary password is shown once to the admin). The database only ever holds password hashes.

Accounts and team memberships are committed first; delivery follows, so a failed delivery never
loses an account (the admin resends).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, select, update

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import WORKER, Actor, require_admin
from gtcore.core.errors import Conflict, NotFound, Problem, ValidationError
from gtcore.workforce import passwords, signin, throttle
from gtcore.workforce.invitation_mail import Delivery, Pending, deliver
from gtcore.workforce.teams import add_members_in, resolve_team_id
from gtcore.workforce.users import email_problem, new_user_values, parse_roles, require_admin_db, serialize

MAX_PER_INVITE = 50
_SPLIT_RE = re.compile(r"[\s,;]+")


@dataclass
class InviteResult:
    invited: list[Delivery] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)  # already had an account: added to the team only
    problems: list[Problem] = field(default_factory=list)  # malformed addresses, listed back


def parse_emails(emails: str | Sequence[str]) -> list[str]:
    """Addresses from text separated by commas, semicolons, spaces or new lines (or from a list)."""
    items = [emails] if isinstance(emails, str) else list(emails)
    out: list[str] = []
    for item in items:
        out.extend(p for p in _SPLIT_RE.split(item.strip()) if p)
    return out


def invite(
    ctx: Context,
    actor: Actor,
    emails: str | Sequence[str],
    team: int | str | None,
    roles: Sequence[str] | str = (WORKER,),
    now: float | None = None,
) -> InviteResult:
    """Invite up to MAX_PER_INVITE addresses to ``team`` with ``roles``.

    Malformed addresses are listed back in ``result.problems`` while the valid ones are invited;
    addresses that already have an account (in any letter case) get no second account but join the team.
    The worker role needs a team (ValidationError without one); auditors and admins may have none.
    """
    require_admin(actor, "invite workers")
    t = dbm.now() if now is None else now
    role_set = parse_roles(roles)
    if WORKER in role_set and team is None:  # a worker sees the jobs of his teams only: none without one
        raise ValidationError(
            [Problem("choose the work team the workers join (a worker in no team gets no jobs)", field="team")]
        )
    result = InviteResult()
    wanted: dict[str, str] = {}
    for i, email in enumerate(parse_emails(emails), start=1):
        why = email_problem(email)
        if why:
            result.problems.append(Problem(why, field=f"address {i}"))
        else:
            wanted.setdefault(email.lower(), email)
    if len(wanted) > MAX_PER_INVITE:
        raise ValidationError(
            [Problem(f"{len(wanted)} addresses given; invite at most {MAX_PER_INVITE} at a time", field="emails")]
        )
    if not wanted:
        if not result.problems:
            result.problems.append(Problem("no e-mail address given", field="emails"))
        return result
    u = dbm.users
    with ctx.db.read() as conn:
        known = set(conn.execute(select(u.c.email_lower).where(u.c.email_lower.in_(list(wanted)))).scalars())
    fresh = {k: passwords.generate_temporary_password() for k in wanted if k not in known}
    hashes = {k: passwords.hash_password(pw) for k, pw in fresh.items()}
    expires = t + ctx.settings.temp_password_days * 86400
    pending: list[Pending] = []
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "invite workers")
        serialize(conn, "users")
        team_id = resolve_team_id(conn, team) if team is not None else None
        team_name = _team_name(conn, team_id)
        member_ids: list[int] = []
        for low, email in wanted.items():
            uid = conn.execute(select(u.c.id).where(u.c.email_lower == low)).scalar_one_or_none()
            if uid is not None or low not in hashes:  # exists (perhaps created meanwhile)
                if uid is not None:
                    member_ids.append(int(uid))
                result.existing.append(email)
                continue
            values = new_user_values(email, role_set, hashes[low], True, expires, t)
            uid = int(conn.execute(u.insert().values(**values)).inserted_primary_key[0])  # type: ignore[index]
            member_ids.append(uid)
            inv = _record(conn, uid, team_id, actor, t)
            pending.append(Pending(email, uid, "invitation", fresh[low], expires, team_name, inv))
        if team_id is not None:
            add_members_in(conn, team_id, member_ids, t)
    result.invited = deliver(ctx, pending, t)
    return result


def _team_name(conn: Connection, team_id: int | None) -> str | None:
    if team_id is None:
        return None
    return conn.execute(select(dbm.teams.c.name).where(dbm.teams.c.id == team_id)).scalar()


def _record(conn: Connection, user_id: int, team_id: int | None, actor: Actor, now: float) -> int:
    return int(
        conn.execute(  # type: ignore[index]
            dbm.invitations.insert().values(
                user_id=user_id, team_id=team_id, invited_by=actor.user_id, created_at=now, delivery="pending"
            )
        ).inserted_primary_key[0]
    )


def _reissue(ctx: Context, actor: Actor, user_id: int, kind: str, now: float | None) -> Delivery:
    what = "reset passwords" if kind == "reset" else "resend invitations"
    require_admin(actor, what)
    t = dbm.now() if now is None else now
    password = passwords.generate_temporary_password()
    pw_hash = passwords.hash_password(password)
    expires = t + ctx.settings.temp_password_days * 86400
    u, inv = dbm.users, dbm.invitations
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, what)
        row = conn.execute(select(u).where(u.c.id == user_id)).first()
        if row is None:
            raise NotFound(f"no user with id {user_id}")
        if kind == "invitation" and not row.password_is_temporary:
            raise Conflict(f"{row.email} has already chosen a password: reset the password instead")
        if kind == "reset" and actor.user_id == user_id:
            raise Conflict("change your own password on the Account page")
        last_team = conn.execute(
            select(inv.c.team_id).where(inv.c.user_id == user_id).order_by(inv.c.id.desc()).limit(1)
        ).scalar()
        team_name = _team_name(conn, last_team)
        conn.execute(
            update(u)
            .where(u.c.id == user_id)
            .values(password_hash=pw_hash, password_is_temporary=True, temp_password_expires_at=expires)
        )
        signin.revoke_sessions(conn, user_id)
        throttle.clear_account(conn, row.email)  # a new password: the old failures say nothing about it
        inv_id = _record(conn, user_id, last_team, actor, t)
    return deliver(ctx, [Pending(row.email, user_id, kind, password, expires, team_name, inv_id)], t)[0]


def resend_invitation(ctx: Context, actor: Actor, user_id: int, now: float | None = None) -> Delivery:
    """A new temporary password for someone who has not signed in yet (the old one stops working)."""
    return _reissue(ctx, actor, user_id, "invitation", now)


def reset_password(ctx: Context, actor: Actor, user_id: int, now: float | None = None) -> Delivery:
    """A new temporary password for a user who forgot his; his sessions end at once."""
    return _reissue(ctx, actor, user_id, "reset", now)
