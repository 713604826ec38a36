"""Work teams: create, rename, add and remove workers. A job is assigned to one team; a worker may be
in several. Names follow Ground Truth's ``WorkteamName``: 1-63 characters matching
``[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}``, unique without regard to letter case, at most ``MAX_TEAMS``.

Every call takes the acting Actor and requires an active admin.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from gtcore.context import Context
from gtcore.core import db as dbm
from gtcore.core.access import Actor
from gtcore.core.errors import Conflict, LimitExceeded, NotFound, Problem, ValidationError
from gtcore.workforce.users import _return_leases, require_admin_db, serialize

MAX_TEAMS = 25
NAME_MAX = 63
DESCRIPTION_MAX = 200
_NAME_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")


@dataclass(frozen=True)
class Team:
    id: int
    name: str
    description: str
    created_at: float
    member_count: int


@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    is_active: bool


def team_name_problems(name: str, field: str = "name") -> list[Problem]:
    """Every reason ``name`` is not a valid team name (empty list when valid)."""
    if not name:
        return [Problem("a team name is required", field=field)]
    if len(name) > NAME_MAX:
        return [Problem(f"a team name has at most {NAME_MAX} characters (got {len(name)})", field=field)]
    if not _NAME_RE.fullmatch(name):
        return [
            Problem(
                f"{name!r} is not a valid team name: use letters, digits and inner hyphens "
                "(starting and ending with a letter or digit)",
                field=field,
            )
        ]
    return []


def _description_problems(description: str) -> list[Problem]:
    if len(description) > DESCRIPTION_MAX:
        return [Problem(f"at most {DESCRIPTION_MAX} characters (got {len(description)})", field="description")]
    return []


def resolve_team_id(conn: Connection, team: int | str) -> int:
    """A team id from an id or a name (any letter case); NotFound otherwise."""
    t = dbm.teams
    cond = t.c.id == team if isinstance(team, int) else t.c.name_lower == team.strip().lower()
    tid = conn.execute(select(t.c.id).where(cond)).scalar_one_or_none()
    if tid is None:
        raise NotFound(f"no work team {team!r}")
    return int(tid)


def _team(conn: Connection, team_id: int) -> Team:
    t, m = dbm.teams, dbm.team_members
    row = conn.execute(select(t).where(t.c.id == team_id)).one()
    count = conn.execute(select(func.count()).select_from(m).where(m.c.team_id == team_id)).scalar_one()
    return Team(int(row.id), row.name, row.description, row.created_at, int(count))


def _name_taken(conn: Connection, name: str, but: int | None = None) -> None:
    t = dbm.teams
    q = select(t.c.name).where(t.c.name_lower == name.lower())
    if but is not None:
        q = q.where(t.c.id != but)
    other = conn.execute(q).scalar_one_or_none()
    if other is not None:
        raise Conflict(f"a team named {other!r} already exists (team names ignore letter case)")


def create_team(ctx: Context, actor: Actor, name: str, description: str = "", now: float | None = None) -> Team:
    """Create a work team; Conflict when the name is taken or there are already MAX_TEAMS teams."""
    name, description = name.strip(), description.strip()
    problems = team_name_problems(name) + _description_problems(description)
    if problems:
        raise ValidationError(problems, summary="the team cannot be created")
    t = dbm.now() if now is None else now
    try:
        with ctx.db.write() as conn:
            require_admin_db(conn, actor, "create teams")
            serialize(conn, "teams")
            _name_taken(conn, name)
            count = conn.execute(select(func.count()).select_from(dbm.teams)).scalar_one()
            if count >= MAX_TEAMS:
                raise LimitExceeded(f"there are already {count} work teams, the most allowed ({MAX_TEAMS})")
            tid = conn.execute(
                dbm.teams.insert().values(name=name, name_lower=name.lower(), description=description, created_at=t)
            ).inserted_primary_key[0]  # type: ignore[index]
            return _team(conn, int(tid))
    except IntegrityError:
        raise Conflict(f"a team named {name!r} already exists (team names ignore letter case)") from None


def rename_team(ctx: Context, actor: Actor, team: int | str, new_name: str, description: str | None = None) -> Team:
    """Rename a team (and optionally change its description). Jobs keep pointing at it."""
    new_name = new_name.strip()
    problems = team_name_problems(new_name, "new_name")
    if description is not None:
        description = description.strip()
        problems += _description_problems(description)
    if problems:
        raise ValidationError(problems, summary="the team cannot be renamed")
    values: dict[str, Any] = {"name": new_name, "name_lower": new_name.lower()}
    if description is not None:
        values["description"] = description
    try:
        with ctx.db.write() as conn:
            require_admin_db(conn, actor, "rename teams")
            tid = resolve_team_id(conn, team)
            _name_taken(conn, new_name, but=tid)
            conn.execute(update(dbm.teams).where(dbm.teams.c.id == tid).values(**values))
            return _team(conn, tid)
    except IntegrityError:
        raise Conflict(f"a team named {new_name!r} already exists (team names ignore letter case)") from None


def list_teams(ctx: Context, actor: Actor) -> list[Team]:
    """Every work team, by name."""
    t, m = dbm.teams, dbm.team_members
    with ctx.db.read() as conn:
        require_admin_db(conn, actor, "list teams")
        counts: dict[int, int] = dict(conn.execute(select(m.c.team_id, func.count()).group_by(m.c.team_id)).all())
        rows = conn.execute(select(t).order_by(t.c.name_lower)).all()
    return [Team(int(r.id), r.name, r.description, r.created_at, int(counts.get(r.id, 0))) for r in rows]


def get_team(ctx: Context, actor: Actor, team: int | str) -> Team:
    with ctx.db.read() as conn:
        require_admin_db(conn, actor, "read teams")
        return _team(conn, resolve_team_id(conn, team))


def team_members(ctx: Context, actor: Actor, team: int | str) -> list[Member]:
    """The members of a team, by e-mail address."""
    u, m = dbm.users, dbm.team_members
    with ctx.db.read() as conn:
        require_admin_db(conn, actor, "read team members")
        tid = resolve_team_id(conn, team)
        rows = conn.execute(
            select(u.c.id, u.c.email, u.c.is_active)
            .join(m, m.c.user_id == u.c.id)
            .where(m.c.team_id == tid)
            .order_by(u.c.email_lower)
        ).all()
    return [Member(int(r.id), r.email, bool(r.is_active)) for r in rows]


def add_members_in(conn: Connection, team_id: int, user_ids: Iterable[int], now: float) -> int:
    """Add users to a team inside the caller's transaction; returns how many were not members yet."""
    m = dbm.team_members
    have = set(conn.execute(select(m.c.user_id).where(m.c.team_id == team_id)).scalars())
    added = 0
    for uid in dict.fromkeys(user_ids):
        if uid not in have:
            conn.execute(m.insert().values(team_id=team_id, user_id=uid, added_at=now))
            added += 1
    return added


def add_members(ctx: Context, actor: Actor, team: int | str, user_ids: Iterable[int], now: float | None = None) -> int:
    """Add existing workforce members to a team; returns how many joined (members already in are skipped)."""
    ids = [int(u) for u in user_ids]
    t = dbm.now() if now is None else now
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "change team members")
        tid = resolve_team_id(conn, team)
        found = set(conn.execute(select(dbm.users.c.id).where(dbm.users.c.id.in_(ids))).scalars())
        missing = [u for u in ids if u not in found]
        if missing:
            raise NotFound(f"no user with id {', '.join(map(str, missing))}")
        return add_members_in(conn, tid, ids, t)


def remove_member(ctx: Context, actor: Actor, team: int | str, user_id: int) -> int:
    """Take a worker off a team. His leased tasks of that team's jobs go back to the pool (returned count)."""
    m = dbm.team_members
    with ctx.db.write() as conn:
        require_admin_db(conn, actor, "change team members")
        tid = resolve_team_id(conn, team)
        gone = conn.execute(delete(m).where(m.c.team_id == tid, m.c.user_id == user_id)).rowcount
        if not gone:
            raise NotFound(f"user {user_id} is not a member of this team")
        return _return_leases(conn, user_id, team_id=tid)
